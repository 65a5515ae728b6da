// Machines on a site's LAN, each with a proxy address from its gateway's block.
import { type Cidr, contains, formatCidr, parseIpv4 } from "@meetpoint/common";
import { and, asc, count, eq, sql } from "drizzle-orm";
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
import { customers, type Db, gateways, inTransaction, machines, sites } from "../db/index.ts";
import {
  ConflictError,
  escapeLike,
  nameSchema,
  parseInput,
  StateError,
  ValidationError,
  versionOf,
} from "../shared/index.ts";
import { getGateway, POOL_LOCK } from "./gateways.ts";
import { machinesOnSites } from "./on-sites.ts";
import { blockOf, freeAddress, type ProxyPool } from "./proxy-pool.ts";

export interface Machine {
  id: string;
  customerId: string;
  gatewayId: string;
  name: string;
  /** Null for a workstation: the PC itself, reached at its tunnel address while online. */
  lanAddress: string | null;
  proxyAddress: string;
  createdAt: Date;
  gatewayName: string;
  siteId: string;
  siteName: string;
  customerName: string;
}

/**
 * A unicast host address a gateway can forward to: not this-network (0.x), loopback (127.x),
 * multicast (224–239.x) or reserved (240–255.x, with the broadcast 255.255.255.255). An address
 * ending in .0 or .255 is a host in a LAN wider than /24, so it is accepted: the platform does not
 * know the LAN's mask.
 */
export const lanAddressSchema = z
  .string({ error: "is required" })
  .trim()
  .refine((v) => parseIpv4(v) !== null, "must be an IPv4 address such as 192.168.0.10")
  .refine((v) => {
    const first = Number(v.split(".")[0]);
    return first !== 0 && first !== 127 && first < 224;
  }, "must be a unicast host address (not 0.x, loopback 127.x, multicast 224–239.x or reserved 240–255.x such as the broadcast 255.255.255.255)");

/**
 * Why `address` cannot be a machine's LAN address with these pools, or null: the proxy pool and
 * the tunnel pool are routed to the platform's tunnels, so a LAN using them is unreachable.
 */
export function lanAddressProblem(pool: ProxyPool, address: string): string | null {
  const value = parseIpv4(address);
  if (value === null) return null;
  const inside = (cidr: Cidr) => contains(cidr, value);
  const reserved = (pool.reserved ?? []).find(inside);
  if (reserved)
    return `${address} lies in the tunnel pool ${formatCidr(reserved)} (MEETPOINT_TUNNEL_POOL): a machine's LAN must not use the platform's address pools`;
  if (inside(pool.pool))
    return `${address} lies in the proxy pool ${formatCidr(pool.pool)} (MEETPOINT_PROXY_POOL): a machine's LAN must not use the platform's address pools`;
  return null;
}

function parseMachine(pool: ProxyPool, input: unknown) {
  const values = parseInput(machineInput, input);
  const problem = lanAddressProblem(pool, values.lanAddress);
  if (problem) throw new ValidationError("lanAddress", problem);
  return values;
}

const machineInput = z.object({ name: nameSchema, lanAddress: lanAddressSchema });

/** The version of a machine as its form shows it (checked on save). */
export const machineVersion = (machine: Pick<Machine, "name" | "lanAddress">) =>
  versionOf({ name: machine.name, lanAddress: machine.lanAddress });

const machineColumns = {
  id: machines.id,
  customerId: machines.customerId,
  gatewayId: machines.gatewayId,
  name: machines.name,
  lanAddress: machines.lanAddress,
  proxyAddress: machines.proxyAddress,
  createdAt: machines.createdAt,
  gatewayName: gateways.name,
  siteId: sites.id,
  siteName: sites.name,
  customerName: customers.name,
};

function baseQuery(db: Db) {
  return db
    .select(machineColumns)
    .from(machines)
    .innerJoin(gateways, eq(gateways.id, machines.gatewayId))
    .innerJoin(sites, eq(sites.id, gateways.siteId))
    .innerJoin(customers, eq(customers.id, machines.customerId));
}

export interface MachineFilter {
  /** Matches name, LAN or proxy address, site or customer name. */
  search?: string;
  gatewayId?: string;
  limit?: number;
  offset?: number;
}

/** The condition on the machines table alone, so counting and paging need no joins. */
function filterCondition(ctx: Context, filter: MachineFilter) {
  const pattern = filter.search ? `%${escapeLike(filter.search.trim())}%` : null;
  return and(
    readable(ctx.caller, machines.customerId, machinesOnSites(ctx.db)),
    filter.gatewayId ? eq(machines.gatewayId, checkId(filter.gatewayId, "Gateway")) : undefined,
    pattern
      ? // One branch per trigram index, so each is an index lookup rather than a scan of all.
        sql`${machines.id} in (
            select id from machines where name ilike ${pattern}
            union select id from machines where lan_address ilike ${pattern}
            union select id from machines where proxy_address ilike ${pattern}
            union select m.id from machines m join gateways g on g.id = m.gateway_id
              join sites s on s.id = g.site_id where s.name ilike ${pattern}
            union select m.id from machines m join customers c on c.id = m.customer_id
              where c.name ilike ${pattern})`
      : undefined,
  );
}

/** One page of machines (default 50) and the total count for the filter. */
export async function listMachines(
  ctx: Context,
  filter: MachineFilter = {},
): Promise<{ machines: Machine[]; total: number }> {
  const where = filterCondition(ctx, filter);
  const [rows, [total]] = await Promise.all([
    baseQuery(ctx.db)
      .where(where)
      // By machine name: an index walk that stops after one page, whatever the table's size.
      .orderBy(asc(machines.name), asc(machines.id))
      .limit(filter.limit ?? 50)
      .offset(filter.offset ?? 0),
    ctx.db.select({ n: count() }).from(machines).where(where),
  ]);
  return { machines: rows, total: total?.n ?? 0 };
}

export async function getMachine(ctx: Context, id: string): Promise<Machine> {
  const [row] = await baseQuery(ctx.db).where(
    and(
      eq(machines.id, checkId(id, "Machine")),
      readable(ctx.caller, machines.customerId, machinesOnSites(ctx.db)),
    ),
  );
  return found(row, "Machine");
}

export async function createMachine(
  ctx: Context,
  pool: ProxyPool,
  gatewayId: string,
  input: unknown,
): Promise<Machine> {
  const gateway = await getGateway(ctx, gatewayId);
  requirePermission(ctx.caller, "masterdata.manage", gateway.customerId);
  if (gateway.kind === "workstation")
    throw new StateError(
      "ERR_WORKSTATION_IS_ONE_MACHINE",
      "A workstation is its own single machine: add its services to it instead.",
    );
  const { name, lanAddress } = parseMachine(pool, input);
  const block = blockOf(pool, gateway.proxyBlock);
  const id = await conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${POOL_LOCK})`);
      const used = await tx
        .select({ address: machines.proxyAddress })
        .from(machines)
        .where(eq(machines.gatewayId, gateway.id));
      const proxyAddress = freeAddress(
        block,
        used.map((u) => u.address),
      );
      if (!proxyAddress) {
        throw new ConflictError(
          `The gateway's proxy address block is full: it holds at most ${2 ** (32 - block.prefix) - 2} machines.`,
        );
      }
      const [row] = await tx
        .insert(machines)
        .values({
          customerId: gateway.customerId,
          gatewayId: gateway.id,
          name,
          lanAddress,
          proxyAddress,
        })
        .returning({ id: machines.id });
      const machineId = found(row, "Machine").id;
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "machine.create",
        target: { type: "machine", id: machineId },
        customerId: gateway.customerId,
        detail: { name, lanAddress, proxyAddress, gatewayId: gateway.id },
      });
      return machineId;
    }),
  );
  return getMachine(ctx, id);
}

export async function updateMachine(
  ctx: Context,
  pool: ProxyPool,
  id: string,
  input: unknown,
): Promise<void> {
  const before = await getMachine(ctx, id);
  requirePermission(ctx.caller, "masterdata.manage", before.customerId);
  // A workstation's machine is the PC itself: it has a name, no LAN address.
  const { name, lanAddress } =
    before.lanAddress === null
      ? { ...parseInput(z.object({ name: nameSchema }), input), lanAddress: null }
      : parseMachine(pool, input);
  await ensureUnchanged(
    ctx,
    input,
    { name: before.name, lanAddress: before.lanAddress },
    { type: "machine", id: before.id },
  );
  await conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      await tx.update(machines).set({ name, lanAddress }).where(eq(machines.id, before.id));
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "machine.update",
        target: { type: "machine", id: before.id },
        customerId: before.customerId,
        detail: {
          from: { name: before.name, lanAddress: before.lanAddress },
          to: { name, lanAddress },
        },
      });
    }),
  );
}

/** Deletes a machine with its services; its proxy address becomes free again. */
export async function deleteMachine(ctx: Context, id: string): Promise<void> {
  const before = await getMachine(ctx, id);
  requirePermission(ctx.caller, "masterdata.manage", before.customerId);
  await inTransaction(ctx.db, async (tx) => {
    await tx.delete(machines).where(eq(machines.id, before.id));
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "machine.delete",
      target: { type: "machine", id: before.id },
      customerId: before.customerId,
      detail: {
        name: before.name,
        lanAddress: before.lanAddress,
        proxyAddress: before.proxyAddress,
      },
    });
  });
}
