// Ends recorded on one platform instance for a session whose tunnel another instance holds (a
// technician disconnecting, or an admin terminating, through the portal of any instance): the end
// is in the database at once; the holding instance removes the grants and kills the connection in
// its own kernel. NOTIFY wakes it within moments; a sweep every SWEEP_MS over recent ends covers a
// NOTIFY that was lost.
import { and, eq, gte, sql } from "drizzle-orm";
import { type Db, gatewaySessions, remoteSessions } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import { carryOut } from "./effects.ts";
import type { CutRequest, SessionEnds } from "./ends.ts";

/** The NOTIFY channel; its payload is JSON {instance, remoteSessionId | gatewaySessionId}. */
export const CUTS_CHANNEL = "meetpoint_session_cuts";
/** How often recent ends of this instance's sessions are looked at again, in milliseconds. */
export const SWEEP_MS = 3000;
/** How far back the sweep looks, in milliseconds. */
const RECENT_MS = 5 * 60_000;

type Listen = (
  channel: string,
  onPayload: (payload: string) => void,
) => Promise<() => Promise<void>>;

export interface InstanceCutsDeps {
  db: Db;
  clock: Clock;
  /** This instance's id (instances/registry.ts). */
  instanceId: string;
  /** Rewrites this instance's CRL file (the certificate was revoked where the end was recorded). */
  refreshTrustFiles: () => Promise<void>;
  log?: (line: string) => void;
}

export class InstanceCuts {
  /** Sessions cut in this kernel already, by id, with when (pruned after RECENT_MS). */
  private done = new Map<string, number>();
  private ends: SessionEnds | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  /**
   * When this process began to hold tunnels, in epoch ms. Ends recorded before it belong to an
   * earlier run of this instance, whose kernel state went with its OpenVPN servers: cutting them
   * again would hit this run's connections (connection ids restart at 0) and routes (the same
   * proxy block), so the sweep never looks before it.
   */
  private readonly since: number;

  constructor(private readonly deps: InstanceCutsDeps) {
    this.since = deps.clock.now().getTime();
  }

  /** The ends whose cut steps this runs (set once, after both are made). */
  bind(ends: SessionEnds): void {
    this.ends = ends;
  }

  /** Asks `instanceId` to cut a session whose end was recorded here. Never throws. */
  async ask(instanceId: string, what: CutRequest): Promise<void> {
    const payload = JSON.stringify({ instance: instanceId, ...what });
    await this.deps.db
      .execute(sqlNotify(payload))
      .catch((error) => this.log(`asking ${instanceId} to cut: ${error}`));
  }

  /** Records that a session was cut in this kernel (by SessionEnds), so the sweep leaves it. */
  cutHere(id: string): void {
    this.done.set(id, this.deps.clock.now().getTime());
  }

  /** LISTENs (when `listen` is given) and sweeps every SWEEP_MS. Idempotent. */
  async start(listen?: Listen): Promise<void> {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sweep(), SWEEP_MS);
    if (listen)
      this.unlisten = await listen(CUTS_CHANNEL, (payload) => {
        // Only a wake-up: the rows decide what is cut.
        let asked: { instance?: unknown } & Partial<Record<string, unknown>>;
        try {
          asked = JSON.parse(payload);
        } catch {
          return;
        }
        if (asked.instance === this.deps.instanceId) void this.sweep();
      });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.unlisten?.().catch(() => {});
    this.unlisten = null;
  }

  private sweeping = false;
  private again = false;

  /**
   * Cuts every session of this instance that ended (or whose data channel closed) within
   * RECENT_MS and was not cut here yet. Returns how many it cut.
   */
  async sweep(): Promise<number> {
    if (this.sweeping) {
      this.again = true;
      return 0;
    }
    this.sweeping = true;
    let cut = 0;
    try {
      do {
        this.again = false;
        cut += await this.sweepOnce();
      } while (this.again);
    } catch (error) {
      this.log(`cutting sessions ended on other instances: ${error}`);
    } finally {
      this.sweeping = false;
    }
    return cut;
  }

  private async sweepOnce(): Promise<number> {
    const ends = this.ends;
    if (!ends) return 0;
    const { db, instanceId } = this.deps;
    const now = this.deps.clock.now().getTime();
    for (const [id, at] of this.done) if (now - at > 2 * RECENT_MS) this.done.delete(id);
    const since = new Date(Math.max(now - RECENT_MS, this.since));
    const remotes = await db
      .select()
      .from(remoteSessions)
      .where(
        and(
          eq(remoteSessions.instanceId, instanceId),
          eq(remoteSessions.state, "ended"),
          gte(remoteSessions.endedAt, since),
        ),
      );
    const channels = await db
      .select()
      .from(gatewaySessions)
      .where(
        and(
          eq(gatewaySessions.instanceId, instanceId),
          eq(gatewaySessions.state, "closed"),
          gte(gatewaySessions.closedAt, since),
        ),
      );
    let cut = 0;
    for (const session of remotes) {
      if (this.done.has(session.id)) continue;
      this.cutHere(session.id);
      await carryOut(ends.remoteCutSteps(session, session.connection !== null), this.deps.log);
      cut++;
    }
    for (const channel of channels) {
      if (this.done.has(channel.id)) continue;
      this.cutHere(channel.id);
      await carryOut(await ends.channelCutSteps(channel), this.deps.log);
      cut++;
    }
    // The certificates were revoked where the ends were recorded: this kernel's CRL learns it.
    if (cut > 0) await this.deps.refreshTrustFiles();
    return cut;
  }

  private log(line: string): void {
    (this.deps.log ?? console.error)(line);
  }
}

function sqlNotify(payload: string) {
  return sql`select pg_notify(${CUTS_CHANNEL}, ${payload})`;
}
