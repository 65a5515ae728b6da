// Services of a machine: what a remote session may reach (protocol + port), when enabled.

import { and, asc, eq } from "drizzle-orm";
import { z } from "zod";
import type { Context } from "../access/index.ts";
import {
  checkId,
  conflictOnDuplicate,
  found,
  readable,
  requirePermission,
} from "../access/index.ts";
import { recordAudit } from "../audit/index.ts";
import { inTransaction, services } from "../db/index.ts";
import { nameSchema, parseInput } from "../shared/index.ts";
import { getMachine } from "./machines.ts";
import { servicesOnSites } from "./on-sites.ts";

export type Service = typeof services.$inferSelect;

const serviceInput = z.object({
  name: nameSchema,
  protocol: z.enum(["tcp", "udp"], { error: "must be tcp or udp" }),
  port: z.coerce
    .number({ error: "must be a number" })
    .int("must be a whole number")
    .min(1, "must be between 1 and 65535")
    .max(65535, "must be between 1 and 65535"),
  enabled: z.preprocess((v) => v === true || v === "on" || v === "true", z.boolean()),
});

export async function listServices(ctx: Context, machineId: string): Promise<Service[]> {
  const machine = await getMachine(ctx, machineId);
  return ctx.db
    .select()
    .from(services)
    .where(
      and(
        eq(services.machineId, machine.id),
        readable(ctx.caller, services.customerId, servicesOnSites(ctx.db)),
      ),
    )
    .orderBy(asc(services.protocol), asc(services.port));
}

export async function getService(ctx: Context, id: string): Promise<Service> {
  const [row] = await ctx.db
    .select()
    .from(services)
    .where(
      and(
        eq(services.id, checkId(id, "Service")),
        readable(ctx.caller, services.customerId, servicesOnSites(ctx.db)),
      ),
    );
  return found(row, "Service");
}

export async function createService(
  ctx: Context,
  machineId: string,
  input: unknown,
): Promise<Service> {
  const machine = await getMachine(ctx, machineId);
  requirePermission(ctx.caller, "masterdata.manage", machine.customerId);
  const values = parseInput(serviceInput, input);
  return conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      const [row] = await tx
        .insert(services)
        .values({ ...values, machineId: machine.id, customerId: machine.customerId })
        .returning();
      const service = found(row, "Service");
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "service.create",
        target: { type: "service", id: service.id },
        customerId: machine.customerId,
        detail: { machineId: machine.id, ...values },
      });
      return service;
    }),
  );
}

export async function updateService(ctx: Context, id: string, input: unknown): Promise<Service> {
  const before = await getService(ctx, id);
  requirePermission(ctx.caller, "masterdata.manage", before.customerId);
  const values = parseInput(serviceInput, input);
  return conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      const [row] = await tx
        .update(services)
        .set(values)
        .where(eq(services.id, before.id))
        .returning();
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "service.update",
        target: { type: "service", id: before.id },
        customerId: before.customerId,
        detail: {
          from: {
            name: before.name,
            protocol: before.protocol,
            port: before.port,
            enabled: before.enabled,
          },
          to: values,
        },
      });
      return found(row, "Service");
    }),
  );
}

/** Turns a service on or off; returns it as it now is. */
export async function setServiceEnabled(
  ctx: Context,
  id: string,
  enabled: boolean,
): Promise<Service> {
  const before = await getService(ctx, id);
  return updateService(ctx, id, { ...before, enabled });
}

export async function deleteService(ctx: Context, id: string): Promise<void> {
  const before = await getService(ctx, id);
  requirePermission(ctx.caller, "masterdata.manage", before.customerId);
  await inTransaction(ctx.db, async (tx) => {
    await tx.delete(services).where(eq(services.id, before.id));
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "service.delete",
      target: { type: "service", id: before.id },
      customerId: before.customerId,
      detail: { name: before.name, protocol: before.protocol, port: before.port },
    });
  });
}
