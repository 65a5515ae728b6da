// How far the master data of the caller's customers is set up: what the first-run guide shows.
import { and, asc, count, eq, isNotNull } from "drizzle-orm";
import { type Context, readable } from "../access/index.ts";
import { customers, gateways, machines, roleAssignments, services, sites } from "../db/index.ts";

/** Counts of what exists (in the caller's scope), and the first of each, to link the next step. */
export interface SetupProgress {
  customers: number;
  sites: number;
  gateways: number;
  /** Gateways whose agent has reported: their enrollment bundle was imported. */
  enrolledGateways: number;
  machines: number;
  services: number;
  /** Role grants of technicians at the caller's customers. */
  technicians: number;
  first: { customerId?: string; siteId?: string; gatewayId?: string; machineId?: string };
}

async function countOf(
  ctx: Context,
  table: typeof sites | typeof gateways | typeof machines | typeof services,
  where = undefined as ReturnType<typeof and>,
) {
  const [row] = await ctx.db
    .select({ n: count() })
    .from(table)
    .where(and(readable(ctx.caller, table.customerId), where));
  return row?.n ?? 0;
}

async function firstId(
  ctx: Context,
  table: typeof customers | typeof sites | typeof gateways | typeof machines,
): Promise<string | undefined> {
  const column = "customerId" in table ? table.customerId : table.id;
  const [row] = await ctx.db
    .select({ id: table.id })
    .from(table)
    .where(readable(ctx.caller, column))
    .orderBy(asc(table.name))
    .limit(1);
  return row?.id;
}

export async function setupProgress(ctx: Context): Promise<SetupProgress> {
  const [customerCount] = await ctx.db
    .select({ n: count() })
    .from(customers)
    .where(readable(ctx.caller, customers.id));
  const [technicianCount] = await ctx.db
    .select({ n: count() })
    .from(roleAssignments)
    .where(
      and(eq(roleAssignments.role, "technician"), readable(ctx.caller, roleAssignments.customerId)),
    );
  return {
    customers: customerCount?.n ?? 0,
    sites: await countOf(ctx, sites),
    gateways: await countOf(ctx, gateways),
    enrolledGateways: await countOf(ctx, gateways, isNotNull(gateways.lastSeenAt)),
    machines: await countOf(ctx, machines),
    services: await countOf(ctx, services),
    technicians: technicianCount?.n ?? 0,
    first: {
      customerId: await firstId(ctx, customers),
      siteId: await firstId(ctx, sites),
      gatewayId: await firstId(ctx, gateways),
      machineId: await firstId(ctx, machines),
    },
  };
}
