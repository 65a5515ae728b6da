// Sites: the plants of a customer, where gateways stand.

import { and, asc, eq } from "drizzle-orm";
import { z } from "zod";
import type { Context } from "../access/index.ts";
import {
  checkId,
  conflictOnDuplicate,
  ensureUnchanged,
  found,
  readable,
  requirePermission,
} from "../access/index.ts";
import { recordAudit } from "../audit/index.ts";
import { customers, gateways, inTransaction, sites } from "../db/index.ts";
import { nameSchema, parseInput, versionOf } from "../shared/index.ts";
import { getCustomer } from "./customers.ts";
import { refuseWhileInUse } from "./in-use.ts";
import { sitesOnSites } from "./on-sites.ts";

export type Site = typeof sites.$inferSelect & { customerName: string };

const siteInput = z.object({ name: nameSchema });

const siteColumns = {
  id: sites.id,
  customerId: sites.customerId,
  name: sites.name,
  consentPolicy: sites.consentPolicy,
  maxSessionMinutes: sites.maxSessionMinutes,
  requestExpiryMinutes: sites.requestExpiryMinutes,
  windowCreators: sites.windowCreators,
  windowsMayOverlap: sites.windowsMayOverlap,
  createdAt: sites.createdAt,
  customerName: customers.name,
};

/** The version of a site as its rename form shows it (checked on save). */
export const siteVersion = (site: Pick<Site, "name">) => versionOf({ name: site.name });

export function listSites(ctx: Context, filter: { customerId?: string } = {}): Promise<Site[]> {
  return ctx.db
    .select(siteColumns)
    .from(sites)
    .innerJoin(customers, eq(customers.id, sites.customerId))
    .where(
      and(
        readable(ctx.caller, sites.customerId, sitesOnSites),
        filter.customerId
          ? eq(sites.customerId, checkId(filter.customerId, "Customer"))
          : undefined,
      ),
    )
    .orderBy(asc(customers.name), asc(sites.name));
}

export async function getSite(ctx: Context, id: string): Promise<Site> {
  const [row] = await ctx.db
    .select(siteColumns)
    .from(sites)
    .innerJoin(customers, eq(customers.id, sites.customerId))
    .where(
      and(eq(sites.id, checkId(id, "Site")), readable(ctx.caller, sites.customerId, sitesOnSites)),
    );
  return found(row, "Site");
}

export async function createSite(ctx: Context, customerId: string, input: unknown): Promise<Site> {
  const customer = await getCustomer(ctx, customerId);
  requirePermission(ctx.caller, "masterdata.manage", customer.id);
  const { name } = parseInput(siteInput, input);
  return conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      const [row] = await tx.insert(sites).values({ customerId: customer.id, name }).returning();
      const site = found(row, "Site");
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "site.create",
        target: { type: "site", id: site.id },
        customerId: customer.id,
        detail: { name },
      });
      return { ...site, customerName: customer.name };
    }),
  );
}

export async function renameSite(ctx: Context, id: string, input: unknown): Promise<void> {
  const before = await getSite(ctx, id);
  requirePermission(ctx.caller, "masterdata.manage", before.customerId);
  const { name } = parseInput(siteInput, input);
  await ensureUnchanged(ctx, input, { name: before.name }, { type: "site", id: before.id });
  await conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      await tx.update(sites).set({ name }).where(eq(sites.id, before.id));
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "site.update",
        target: { type: "site", id: before.id },
        customerId: before.customerId,
        detail: { from: { name: before.name }, to: { name } },
      });
    }),
  );
}

export async function deleteSite(ctx: Context, id: string): Promise<void> {
  const before = await getSite(ctx, id);
  requirePermission(ctx.caller, "masterdata.manage", before.customerId);
  const own = await ctx.db
    .select({ id: gateways.id, name: gateways.name })
    .from(gateways)
    .where(eq(gateways.siteId, before.id))
    .orderBy(asc(gateways.name));
  await refuseWhileInUse(ctx, {
    action: "site.delete",
    target: { type: "site", id: before.id, name: before.name },
    customerId: before.customerId,
    dependents: own.map((g) => ({ type: "gateway" as const, ...g })),
  });
  await conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      await tx.delete(sites).where(eq(sites.id, before.id));
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "site.delete",
        target: { type: "site", id: before.id },
        customerId: before.customerId,
        detail: { name: before.name },
      });
    }),
  );
}
