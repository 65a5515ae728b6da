// The registry of platform instances over one database: each instance registers at start (refused
// when its clock is off or its tunnel pool overlaps a live instance's), refreshes its liveness row
// every few seconds, and marks itself stopped on a clean stop. A row not refreshed for three
// periods is a lost instance, whose sessions a survivor ends (lost.ts).
import { type Cidr, contains, formatCidr, parseCidr, subBlock } from "@meetpoint/common";
import { and, eq, gte, isNull, lt, ne, sql } from "drizzle-orm";
import { type Db, platformInstances } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";

/** How often an instance refreshes its liveness row, in milliseconds. */
export const REFRESH_MS = 2000;
/** A liveness row older than this (three refreshes) belongs to a lost instance, in milliseconds. */
export const STALE_MS = 3 * REFRESH_MS;
/** Refreshes in a row with the clock off by more than the allowance before an instance stops serving. */
export const SKEW_REFRESHES = 3;

/** Why an instance must not serve; main.ts prints the message and exits. */
export class InstanceRefused extends Error {
  constructor(
    readonly code: "ERR_CLOCK_SKEW" | "ERR_TUNNEL_POOL_OVERLAP" | "ERR_INSTANCE_ID_IN_USE",
    message: string,
  ) {
    super(message);
    this.name = "InstanceRefused";
  }
}

/** What an instance says of itself in the registry. */
export interface InstanceIdentity {
  /** MEETPOINT_INSTANCE_ID (default: the host name). */
  id: string;
  host: string;
  /** The host name its OpenVPN servers are reached at (MEETPOINT_VPN_HOST). */
  vpnHost: string;
  /** "host:protocol/port" per OpenVPN server; empty when the data plane is off by configuration. */
  vpnEndpoints: string[];
  tunnelPool: Cidr;
}

/** Whether two CIDR blocks share an address. */
export function poolsOverlap(a: Cidr, b: Cidr): boolean {
  return contains(a, b.base) || contains(b, a.base);
}

/** The first row of a raw query: postgres.js answers the rows, PGlite an object holding them. */
function firstRow<T>(result: unknown): T | undefined {
  const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as T[];
  return rows[0];
}

/**
 * The database's clock minus this instance's (`clock`), in milliseconds, judged against the
 * midpoint of the round trip (so the query's own time counts at most half).
 */
export async function clockSkewMs(db: Db, clock: Clock): Promise<number> {
  const before = clock.now().getTime();
  const row = firstRow<{ now: string | Date }>(
    await db.execute(sql`select clock_timestamp() as now`),
  );
  const after = clock.now().getTime();
  if (!row) throw new Error("the database did not answer its time");
  return new Date(row.now).getTime() - (before + after) / 2;
}

export interface RegistryDeps {
  db: Db;
  clock: Clock;
  self: InstanceIdentity;
  /** Largest tolerated difference between this clock and the database's, ms (default 2000). */
  skewAllowanceMs?: number;
  /**
   * How long register() watches a live row of its id from another host before taking it over
   * (a crashed run stops refreshing; a second instance with the same id does not), ms; default
   * STALE_MS + REFRESH_MS.
   */
  takeOverWaitMs?: number;
}

export class InstanceRegistry {
  /** When this process registered: its run's mark on the row (refresh() only renews its own). */
  private startedAt: Date | null = null;

  constructor(private readonly deps: RegistryDeps) {}

  get id(): string {
    return this.deps.self.id;
  }

  private get allowanceMs(): number {
    return this.deps.skewAllowanceMs ?? 2000;
  }

  private skewMessage(skewMs: number, then: string): string {
    return `instance ${this.deps.self.id}: this host's clock is ${(Math.abs(skewMs) / 1000).toFixed(1)} s ${skewMs > 0 ? "behind" : "ahead of"} the database's (allowed: ${(this.allowanceMs / 1000).toFixed(1)} s, MEETPOINT_CLOCK_SKEW_ALLOWANCE_MS): session end times, leases and liveness would be judged wrongly — synchronise the clock (NTP) and ${then}`;
  }

  /**
   * Checks that this instance may serve and records it as live. Throws InstanceRefused when its
   * clock differs from the database's by more than the allowance (saying by how much), or when
   * its tunnel pool overlaps a live instance's (naming it and both ranges).
   */
  async register(): Promise<void> {
    const { db, clock, self } = this.deps;
    const skew = await clockSkewMs(db, clock);
    if (Math.abs(skew) > this.allowanceMs)
      throw new InstanceRefused("ERR_CLOCK_SKEW", this.skewMessage(skew, "start again"));
    await this.refuseIdInUse();
    for (const other of await this.live()) {
      if (other.id === self.id) continue;
      const pool = parseCidr(other.tunnelPool);
      if (pool && poolsOverlap(pool, self.tunnelPool))
        throw new InstanceRefused(
          "ERR_TUNNEL_POOL_OVERLAP",
          `instance ${self.id}: MEETPOINT_TUNNEL_POOL ${formatCidr(self.tunnelPool)} overlaps ${other.tunnelPool} of the live instance ${other.id} (${other.host}): give each instance its own slice of the tunnel pool`,
        );
    }
    const now = clock.now();
    this.startedAt = now;
    const row = {
      host: self.host,
      vpnHost: self.vpnHost,
      vpnEndpoints: self.vpnEndpoints,
      tunnelPool: formatCidr(self.tunnelPool),
      startedAt: now,
      lastSeenAt: now,
      stoppedAt: null,
    };
    await db
      .insert(platformInstances)
      .values({ id: self.id, ...row })
      .onConflictDoUpdate({ target: platformInstances.id, set: row });
  }

  /**
   * Records that this instance is alive now (every REFRESH_MS) and measures its clock against the
   * database's in the same statement. `registered` is false when a survivor had taken it for lost
   * (a stall longer than STALE_MS): its sessions were ended as instance_lost, and its kernel cuts
   * them at its next sweep (sessions/cuts.ts); it serves on, registered anew. `refusal` is set when
   * the clock has been off by more than the allowance in SKEW_REFRESHES refreshes in a row (a clock
   * that stepped away while serving): the instance must stop serving, and the text says why.
   */
  async refresh(): Promise<{ registered: boolean; refusal: string | null }> {
    const { db, clock, self } = this.deps;
    const [before] = await db
      .select({ stoppedAt: platformInstances.stoppedAt })
      .from(platformInstances)
      .where(eq(platformInstances.id, self.id));
    const sent = clock.now().getTime();
    const [row] = await db
      .update(platformInstances)
      .set({ lastSeenAt: clock.now(), stoppedAt: null })
      .where(
        and(
          eq(platformInstances.id, self.id),
          this.startedAt ? eq(platformInstances.startedAt, this.startedAt) : undefined,
        ),
      )
      .returning({ dbNow: sql<string | Date>`clock_timestamp()` });
    if (!row) {
      // Another process registered with this id since: two instances share it.
      const [taker] = await db
        .select()
        .from(platformInstances)
        .where(eq(platformInstances.id, self.id));
      return {
        registered: false,
        refusal: `instance ${self.id}: another process registered with this instance id (host ${taker?.host ?? "unknown"}, started ${taker?.startedAt.toISOString() ?? "?"}): each instance needs its own MEETPOINT_INSTANCE_ID (default: the host name) — this one stops serving`,
      };
    }
    const skew = new Date(row.dbNow).getTime() - (sent + clock.now().getTime()) / 2;
    this.skewedRefreshes = Math.abs(skew) > this.allowanceMs ? this.skewedRefreshes + 1 : 0;
    return {
      registered: !before?.stoppedAt,
      refusal:
        this.skewedRefreshes >= SKEW_REFRESHES
          ? this.skewMessage(skew, "start the instance again")
          : null,
    };
  }

  private skewedRefreshes = 0;

  /**
   * Refuses (ERR_INSTANCE_ID_IN_USE) when a live row of this id belongs to another host and goes
   * on refreshing while this one watches it for takeOverWaitMs: a second instance with the same
   * id. A row of this host (its own crashed run) is taken over at once; so is one that stops.
   */
  private async refuseIdInUse(): Promise<void> {
    const { db, clock, self } = this.deps;
    const read = async () =>
      (await db.select().from(platformInstances).where(eq(platformInstances.id, self.id)))[0];
    const seen = await read();
    const live = (row: typeof seen) =>
      row &&
      !row.stoppedAt &&
      row.lastSeenAt.getTime() >= clock.now().getTime() - STALE_MS &&
      row.host !== self.host;
    if (!live(seen) || !seen) return;
    const waitMs = this.deps.takeOverWaitMs ?? STALE_MS + REFRESH_MS;
    await Bun.sleep(waitMs);
    const again = await read();
    if (again && !again.stoppedAt && again.lastSeenAt.getTime() > seen.lastSeenAt.getTime())
      throw new InstanceRefused(
        "ERR_INSTANCE_ID_IN_USE",
        `instance ${self.id}: a live instance on ${again.host} has this id (it refreshed its liveness while this one waited ${(waitMs / 1000).toFixed(0)} s): give each instance its own MEETPOINT_INSTANCE_ID (default: the host name)`,
      );
  }

  /** A clean stop: this instance's sessions were ended by itself, nobody needs to sweep them. */
  async stopped(): Promise<void> {
    await this.deps.db
      .update(platformInstances)
      .set({ stoppedAt: this.deps.clock.now() })
      .where(eq(platformInstances.id, this.deps.self.id));
  }

  /** Instances that refreshed within STALE_MS and did not stop (this one included). */
  live() {
    return this.deps.db
      .select()
      .from(platformInstances)
      .where(
        and(
          isNull(platformInstances.stoppedAt),
          gte(platformInstances.lastSeenAt, new Date(this.deps.clock.now().getTime() - STALE_MS)),
        ),
      );
  }

  /** Other instances that neither stopped nor refreshed within STALE_MS: lost. */
  lost() {
    return this.deps.db
      .select()
      .from(platformInstances)
      .where(
        and(
          ne(platformInstances.id, this.deps.self.id),
          isNull(platformInstances.stoppedAt),
          lt(platformInstances.lastSeenAt, new Date(this.deps.clock.now().getTime() - STALE_MS)),
        ),
      );
  }

  /**
   * Claims a lost instance for sweeping: true only if it is still lost at this moment (not stopped,
   * not refreshed within STALE_MS) — one statement, so an instance that came back in between, or
   * another sweeper's claim, is never swept twice or by mistake.
   */
  async claimLost(id: string): Promise<boolean> {
    const now = this.deps.clock.now();
    const claimed = await this.deps.db
      .update(platformInstances)
      .set({ stoppedAt: now })
      .where(
        and(
          eq(platformInstances.id, id),
          isNull(platformInstances.stoppedAt),
          lt(platformInstances.lastSeenAt, new Date(now.getTime() - STALE_MS)),
        ),
      )
      .returning({ id: platformInstances.id });
    return claimed.length > 0;
  }
}

/**
 * Where instance `instanceId`'s OpenVPN server `index` is reached (its MEETPOINT_VPN_HOST, the
 * protocol and port of its endpoint `index`) and its /20 of that instance's tunnel pool, as the
 * registry says; null for an unknown instance or server.
 */
export async function serverOfInstance(
  db: Db,
  instanceId: string,
  index: number,
): Promise<{
  host: string;
  instance: {
    index: number;
    protocol: "tcp" | "udp";
    listenAddress: null;
    port: number;
    tunnelNetwork: Cidr;
  };
} | null> {
  const [row] = await db
    .select()
    .from(platformInstances)
    .where(eq(platformInstances.id, instanceId));
  const endpoint = row?.vpnEndpoints[index]?.match(/:(tcp|udp)\/(\d+)$/);
  const pool = row ? parseCidr(row.tunnelPool) : null;
  // One /20 per OpenVPN server, as vpn/ lays the pool out (sessions/tunnel.ts instanceNetwork).
  const tunnelNetwork = pool ? subBlock(pool, 20, index) : null;
  if (!row || !endpoint || !tunnelNetwork) return null;
  return {
    host: row.vpnHost,
    instance: {
      index,
      protocol: endpoint[1] as "tcp" | "udp",
      listenAddress: null,
      port: Number(endpoint[2]),
      tunnelNetwork,
    },
  };
}
