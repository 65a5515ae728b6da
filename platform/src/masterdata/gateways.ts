// Gateways: the connect agents at a site; each gets a secret (shown once) and a proxy block.

import { createHash } from "node:crypto";
import { formatCidr, formatIpv4 } from "@meetpoint/common";
import { encodeBase64urlNoPadding } from "@oslojs/encoding";
import { and, asc, desc, eq, inArray, ne, sql } from "drizzle-orm";
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
import {
  type AgentReport,
  customers,
  type Db,
  GATEWAY_KINDS,
  type GatewayKind,
  gatewaySessions,
  gateways,
  inTransaction,
  machines,
  sites,
} from "../db/index.ts";
import { ConflictError, nameSchema, parseInput, StateError, versionOf } from "../shared/index.ts";
import { refuseWhileInUse } from "./in-use.ts";
import { gatewaysOnSites } from "./on-sites.ts";
import { blockOf, freeBlock, type ProxyPool } from "./proxy-pool.ts";
import { getSite } from "./sites.ts";

export interface Gateway {
  id: string;
  customerId: string;
  siteId: string;
  name: string;
  kind: GatewayKind;
  proxyBlock: number;
  createdAt: Date;
  siteName: string;
  customerName: string;
  lastSeenAt: Date | null;
  agent: AgentReport | null;
}

const gatewayInput = z.object({ name: nameSchema });
const newGatewayInput = gatewayInput.extend({
  kind: z
    .enum(GATEWAY_KINDS, { error: "is connect or workstation" })
    .optional()
    .transform((v) => v ?? "connect"),
});

const gatewayColumns = {
  id: gateways.id,
  customerId: gateways.customerId,
  siteId: gateways.siteId,
  name: gateways.name,
  kind: gateways.kind,
  proxyBlock: gateways.proxyBlock,
  createdAt: gateways.createdAt,
  lastSeenAt: gateways.lastSeenAt,
  agent: gateways.agent,
  siteName: sites.name,

  customerName: customers.name,
};

/** The version of a gateway as its rename form shows it (checked on save). */
export const gatewayVersion = (gateway: Pick<Gateway, "name">) => versionOf({ name: gateway.name });

/** The block of proxy addresses a gateway owns, in CIDR notation. */
export function gatewayBlock(pool: ProxyPool, gateway: { proxyBlock: number }): string {
  return formatCidr(blockOf(pool, gateway.proxyBlock));
}

/**
 * Gateway secrets are 256 random bits, so a fast hash is as safe as a slow one here and keeps
 * every control-channel request cheap. Compared in constant time by the gateway API.
 */
export function hashGatewaySecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

function newSecret(): string {
  return encodeBase64urlNoPadding(crypto.getRandomValues(new Uint8Array(32)));
}

function baseQuery(db: Db) {
  return db
    .select(gatewayColumns)
    .from(gateways)
    .innerJoin(sites, eq(sites.id, gateways.siteId))
    .innerJoin(customers, eq(customers.id, gateways.customerId));
}

export function listGateways(ctx: Context, filter: { siteId?: string } = {}): Promise<Gateway[]> {
  return baseQuery(ctx.db)
    .where(
      and(
        readable(ctx.caller, gateways.customerId, gatewaysOnSites),
        filter.siteId ? eq(gateways.siteId, checkId(filter.siteId, "Site")) : undefined,
      ),
    )
    .orderBy(asc(customers.name), asc(sites.name), asc(gateways.name));
}

export async function getGateway(ctx: Context, id: string): Promise<Gateway> {
  const [row] = await baseQuery(ctx.db).where(
    and(
      eq(gateways.id, checkId(id, "Gateway")),
      readable(ctx.caller, gateways.customerId, gatewaysOnSites),
    ),
  );
  return found(row, "Gateway");
}

// Allocation reads the used blocks and inserts: one allocator at a time across all instances.
export const POOL_LOCK = 0x706f6f6c;

/**
 * Creates a gateway in a site; the returned secret is shown once and stored only hashed. A
 * workstation (kind "workstation") is its own single machine: that machine is made with it, at
 * the first address of its block, and it never uses the secret (it has no agent).
 */
export async function createGateway(
  ctx: Context,
  pool: ProxyPool,
  siteId: string,
  input: unknown,
): Promise<{ gateway: Gateway; secret: string }> {
  const site = await getSite(ctx, siteId);
  requirePermission(ctx.caller, "masterdata.manage", site.customerId);
  const { name, kind } = parseInput(newGatewayInput, input);
  const secret = newSecret();
  const gateway = await conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${POOL_LOCK})`);
      const used = await tx.select({ block: gateways.proxyBlock }).from(gateways);
      const block = freeBlock(
        pool,
        used.map((u) => u.block),
      );
      if (block === null) {
        throw new ConflictError(
          `The proxy address pool ${formatCidr(pool.pool)} is exhausted: every /${pool.blockPrefix} block belongs to a gateway. Enlarge MEETPOINT_PROXY_POOL or delete unused gateways.`,
        );
      }
      const [row] = await tx
        .insert(gateways)
        .values({
          customerId: site.customerId,
          siteId: site.id,
          name,
          kind,
          secretHash: hashGatewaySecret(secret),
          proxyBlock: block,
        })
        .returning();
      const created = found(row, "Gateway");
      if (kind === "workstation")
        await tx.insert(machines).values({
          customerId: site.customerId,
          gatewayId: created.id,
          name,
          lanAddress: null,
          proxyAddress: formatIpv4(blockOf(pool, block).base + 1),
        });
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "gateway.create",
        target: { type: "gateway", id: created.id },
        customerId: site.customerId,
        detail: { name, kind, siteId: site.id, proxyBlock: formatCidr(blockOf(pool, block)) },
      });
      return { ...created, siteName: site.name, customerName: site.customerName };
    }),
  );
  return { gateway, secret };
}

export async function renameGateway(ctx: Context, id: string, input: unknown): Promise<void> {
  const before = await getGateway(ctx, id);
  requirePermission(ctx.caller, "masterdata.manage", before.customerId);
  const { name } = parseInput(gatewayInput, input);
  await ensureUnchanged(ctx, input, { name: before.name }, { type: "gateway", id: before.id });
  await conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      await tx.update(gateways).set({ name }).where(eq(gateways.id, before.id));
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "gateway.update",
        target: { type: "gateway", id: before.id },
        customerId: before.customerId,
        detail: { from: { name: before.name }, to: { name } },
      });
    }),
  );
}

/** Re-keys a gateway: a new secret replaces the old one, which stops working at once. Returns the new one. */
export async function rekeyGateway(ctx: Context, id: string): Promise<string> {
  const gateway = await getGateway(ctx, id);
  requirePermission(ctx.caller, "masterdata.manage", gateway.customerId);
  requireConnectGateway(gateway);
  const secret = newSecret();
  await inTransaction(ctx.db, async (tx) => {
    await tx
      .update(gateways)
      .set({ secretHash: hashGatewaySecret(secret) })
      .where(eq(gateways.id, gateway.id));
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "gateway.rekey",
      target: { type: "gateway", id: gateway.id },
      customerId: gateway.customerId,
    });
  });
  return secret;
}

export async function deleteGateway(ctx: Context, id: string): Promise<void> {
  const before = await getGateway(ctx, id);
  requirePermission(ctx.caller, "masterdata.manage", before.customerId);
  const own = await ctx.db
    .select({ id: machines.id, name: machines.name })
    .from(machines)
    .where(eq(machines.gatewayId, before.id))
    .orderBy(asc(machines.name));
  await refuseWhileInUse(ctx, {
    action: "gateway.delete",
    target: { type: "gateway", id: before.id, name: before.name },
    customerId: before.customerId,
    dependents: own.map((m) => ({ type: "machine" as const, ...m })),
  });
  await conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      await tx.delete(gateways).where(eq(gateways.id, before.id));
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "gateway.delete",
        target: { type: "gateway", id: before.id },
        customerId: before.customerId,
        detail: { name: before.name },
      });
    }),
  );
}

/** What the platform knows of a gateway's reach: its last heartbeat and its open data channel. */
export interface GatewayReachFacts {
  kind: GatewayKind;
  lastSeenAt: Date | null;
  agent: AgentReport | null;
  channel: { state: string; requestedAt: Date; onlineAt: Date | null } | null;
}

/**
 * The reach facts of the gateways `ids` the caller may see, in one query: the heartbeat columns
 * and the newest data channel that is not closed (what the technician's Connect depends on).
 */
export async function gatewayReachFacts(
  ctx: Context,
  ids: string[],
): Promise<Map<string, GatewayReachFacts>> {
  const facts = new Map<string, GatewayReachFacts>();
  const wanted = [...new Set(ids)];
  if (wanted.length === 0) return facts;
  const rows = await ctx.db
    .select({
      id: gateways.id,
      kind: gateways.kind,
      lastSeenAt: gateways.lastSeenAt,
      agent: gateways.agent,
      state: gatewaySessions.state,
      requestedAt: gatewaySessions.requestedAt,
      onlineAt: gatewaySessions.onlineAt,
    })
    .from(gateways)
    .leftJoin(
      gatewaySessions,
      and(eq(gatewaySessions.gatewayId, gateways.id), ne(gatewaySessions.state, "closed")),
    )
    .where(
      and(inArray(gateways.id, wanted), readable(ctx.caller, gateways.customerId, gatewaysOnSites)),
    )
    .orderBy(asc(gateways.id), desc(gatewaySessions.requestedAt));
  for (const row of rows) {
    if (facts.has(row.id)) continue; // the newest open channel came first
    facts.set(row.id, {
      kind: row.kind,
      lastSeenAt: row.lastSeenAt,
      agent: row.agent,
      channel:
        row.state && row.requestedAt
          ? { state: row.state, requestedAt: row.requestedAt, onlineAt: row.onlineAt }
          : null,
    });
  }
  return facts;
}

/**
 * Refuses a workstation where only a connect gateway makes sense: it has no agent, so no secret
 * to use, no enrollment bundle and no signed settings — its people bring it online in the portal.
 */
export function requireConnectGateway(gateway: { kind: GatewayKind }): void {
  if (gateway.kind === "workstation")
    throw new StateError(
      "ERR_NOT_A_CONNECT_GATEWAY",
      "A workstation has no gateway agent (no enrollment bundle, no gateway settings): its people bring it online from its page.",
    );
}
