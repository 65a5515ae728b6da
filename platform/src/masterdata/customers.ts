// Customers: created and renamed by platform admins; everyone else sees only their own.

import { and, asc, eq, ilike } from "drizzle-orm";
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
import { customers, inTransaction, roleAssignments, sites, users } from "../db/index.ts";
import { escapeLike, nameSchema, parseInput, versionOf } from "../shared/index.ts";
import { refuseWhileInUse } from "./in-use.ts";
import { customersOnSites } from "./on-sites.ts";

export type Customer = typeof customers.$inferSelect;

const customerInput = z.object({ name: nameSchema });

/** The version of a customer as its rename form shows it (checked on save). */
export const customerVersion = (customer: Pick<Customer, "name">) =>
  versionOf({ name: customer.name });

export function listCustomers(ctx: Context, search = ""): Promise<Customer[]> {
  return ctx.db
    .select()
    .from(customers)
    .where(
      and(
        readable(ctx.caller, customers.id, customersOnSites(ctx.db)),
        search ? ilike(customers.name, `%${escapeLike(search)}%`) : undefined,
      ),
    )
    .orderBy(asc(customers.name));
}

export async function getCustomer(ctx: Context, id: string): Promise<Customer> {
  const [row] = await ctx.db
    .select()
    .from(customers)
    .where(
      and(
        eq(customers.id, checkId(id, "Customer")),
        readable(ctx.caller, customers.id, customersOnSites(ctx.db)),
      ),
    );
  return found(row, "Customer");
}

export async function createCustomer(ctx: Context, input: unknown): Promise<Customer> {
  requirePermission(ctx.caller, "customers.manage", null);
  const { name } = parseInput(customerInput, input);
  return conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      const [row] = await tx.insert(customers).values({ name }).returning();
      const customer = found(row, "Customer");
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "customer.create",
        target: { type: "customer", id: customer.id },
        customerId: customer.id,
        detail: { name },
      });
      return customer;
    }),
  );
}

export async function renameCustomer(ctx: Context, id: string, input: unknown): Promise<Customer> {
  const before = await getCustomer(ctx, id);
  requirePermission(ctx.caller, "customers.manage", null);
  const { name } = parseInput(customerInput, input);
  await ensureUnchanged(ctx, input, { name: before.name }, { type: "customer", id: before.id });
  return conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      const [row] = await tx
        .update(customers)
        .set({ name })
        .where(eq(customers.id, before.id))
        .returning();
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "customer.update",
        target: { type: "customer", id: before.id },
        customerId: before.id,
        detail: { from: { name: before.name }, to: { name } },
      });
      return found(row, "Customer");
    }),
  );
}

export async function deleteCustomer(ctx: Context, id: string): Promise<void> {
  const before = await getCustomer(ctx, id);
  requirePermission(ctx.caller, "customers.manage", null);
  const ownSites = await ctx.db
    .select({ id: sites.id, name: sites.name })
    .from(sites)
    .where(eq(sites.customerId, before.id))
    .orderBy(asc(sites.name));
  const roleHolders = await ctx.db
    .selectDistinct({ id: users.id, name: users.username })
    .from(roleAssignments)
    .innerJoin(users, eq(users.id, roleAssignments.userId))
    .where(eq(roleAssignments.customerId, before.id))
    .orderBy(asc(users.username));
  await refuseWhileInUse(ctx, {
    action: "customer.delete",
    target: { type: "customer", id: before.id, name: before.name },
    customerId: before.id,
    dependents: [
      ...ownSites.map((s) => ({ type: "site" as const, ...s })),
      ...roleHolders.map((u) => ({ type: "user" as const, ...u })),
    ],
  });
  await conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      await tx.delete(customers).where(eq(customers.id, before.id));
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "customer.delete",
        target: { type: "customer", id: before.id },
        customerId: before.id,
        detail: { name: before.name },
      });
    }),
  );
}
