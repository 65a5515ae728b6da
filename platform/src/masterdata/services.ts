// Services of a machine: what a remote session may reach (protocol + port), when enabled, and how
// the gateway forwards it (in full, or read-only Modbus/TCP through the gateway agent's filter).

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
import { gateways, inTransaction, SERVICE_MODES, type ServiceMode, services } from "../db/index.ts";
import { nameSchema, parseInput, ValidationError } from "../shared/index.ts";
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
  /** Absent: "full" for a new service, unchanged for an existing one. */
  mode: z.enum(SERVICE_MODES, { error: "must be full or modbus-read-only" }).optional(),
});

/**
 * The mode a service gets, or a 400 naming `mode`: read-only Modbus needs TCP (Modbus/TCP) and a
 * connect gateway (a workstation has no gateway agent to filter). Any TCP port is accepted — a
 * PLC may serve Modbus/TCP elsewhere than 502 — but only Modbus/TCP requests that are reads ever
 * pass the filter, so another protocol on that port does not work at all.
 */
async function checkedMode(
  ctx: Context,
  machineId: string,
  protocol: "tcp" | "udp",
  mode: ServiceMode,
): Promise<ServiceMode> {
  if (mode === "full") return mode;
  if (protocol !== "tcp")
    throw new ValidationError("mode", "read-only Modbus is Modbus/TCP: the protocol must be tcp");
  const machine = await getMachine(ctx, machineId);
  const [gateway] = await ctx.db
    .select({ kind: gateways.kind })
    .from(gateways)
    .where(eq(gateways.id, machine.gatewayId));
  if (gateway?.kind === "workstation")
    throw new ValidationError(
      "mode",
      "a workstation has no gateway agent to filter Modbus: only full access is possible",
    );
  return mode;
}

/**
 * What the agent of a machine's gateway reported last (versions, capabilities); null before its
 * first heartbeat. `machine` comes from getMachine, so the caller may read it.
 */
export async function gatewayAgentOf(ctx: Context, machine: { gatewayId: string }) {
  const [row] = await ctx.db
    .select({ agent: gateways.agent })
    .from(gateways)
    .where(eq(gateways.id, machine.gatewayId));
  return row?.agent ?? null;
}

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
  const parsed = parseInput(serviceInput, input);
  const mode = await checkedMode(ctx, machine.id, parsed.protocol, parsed.mode ?? "full");
  const values = { ...parsed, mode };
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
  const parsed = parseInput(serviceInput, input);
  const mode = await checkedMode(
    ctx,
    before.machineId,
    parsed.protocol,
    parsed.mode ?? before.mode,
  );
  const values = { ...parsed, mode };
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
            mode: before.mode,
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

/**
 * Marks a service read-only Modbus/TCP ("modbus-read-only") or gives it full access again ("full");
 * audited as service.update. 400 naming `mode` for any other value, a UDP service or a workstation.
 */
export async function setServiceMode(ctx: Context, id: string, mode: unknown): Promise<Service> {
  const before = await getService(ctx, id);
  return updateService(ctx, id, { ...before, mode: mode ?? "" });
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
