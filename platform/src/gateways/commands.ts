// Commands for gateways (disconnect, refresh), signed and stored as rows until the gateway's
// long-poll picks them up, on whichever platform instance it lands. A command enqueued on one
// instance wakes a long-poll waiting on another through PostgreSQL NOTIFY; NOTIFY only wakes (the
// waiter reads the rows again), and a NOTIFY lost (a database switch, a dropped listening
// connection) is covered by a re-read of new rows every REREAD_MS.
import type { EnvelopeBody } from "@meetpoint/common";
import { and, asc, eq, gt, lt, max, or, sql } from "drizzle-orm";
import { type Db, gatewayCommands } from "../db/index.ts";
import type { Pki } from "../pki/index.ts";
import type { Clock } from "../shared/index.ts";

type Command = EnvelopeBody<"command">;

/** How long a stored command waits for its gateway, in milliseconds. */
const KEEP_MS = 60_000;
/** A command envelope is valid for five minutes: delivered at once, or meaningless. */
const VALID_MS = 5 * 60_000;
/** How often new rows are looked for while long-polls wait (covers a lost NOTIFY), in ms. */
export const REREAD_MS = 2000;
/** How far back reread() looks again for rows that committed late, in milliseconds. */
const LATE_MS = 10_000;
/** The NOTIFY channel; its payload is the gateway's id. */
export const COMMANDS_CHANNEL = "meetpoint_gateway_commands";

/** Subscribes to a NOTIFY channel; resolves to the unsubscribe function (db/client.ts listen). */
export type Listen = (
  channel: string,
  onPayload: (payload: string) => void,
) => Promise<() => Promise<void>>;

export class GatewayCommands {
  private waiters = new Map<string, Set<() => void>>();
  /** Every command with a higher seq is in `latestFor` (known from sends, NOTIFYs and re-reads). */
  private horizon: number | null = null;
  /** Per gateway, the newest command seq seen above the horizon. */
  private latestFor = new Map<string, number>();
  /** Gateways whose stored commands this instance has read once (those below the horizon). */
  private read = new Set<string>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private rereading = false;
  private again = false;
  /** Every command with a seq above it has been seen by reread(). */
  private rereadFrom: number | null = null;
  private lastPrune = 0;

  constructor(
    private readonly db: Db,
    private readonly pki: Pick<Pki, "signEnvelope">,
    private readonly clock: Clock,
    private readonly log: (line: string) => void = console.error,
  ) {}

  /**
   * Starts the cross-instance wake-ups: LISTEN through `listen` (absent on PGlite, which serves
   * one instance) and the periodic re-read. Idempotent.
   */
  async start(listen?: Listen): Promise<void> {
    if (this.timer) return;
    await this.knowHorizon();
    this.timer = setInterval(() => void this.reread(), REREAD_MS);
    if (listen)
      this.unlisten = await listen(COMMANDS_CHANNEL, () => {
        // Only a wake-up: the rows say which gateways have new commands (a stale payload or one
        // lost on the way changes nothing).
        void this.reread();
      });
  }

  /** Stops LISTEN and the re-read; waiting long-polls answer at their timeout. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.unlisten?.().catch(() => {});
    this.unlisten = null;
  }

  /** Signs and stores a command; wakes the gateway's long-poll here and on other instances. Never throws. */
  async send(gatewayId: string, command: Command): Promise<void> {
    try {
      const now = this.clock.now();
      const { token } = await this.pki.signEnvelope({
        kind: "command",
        audience: gatewayId,
        issuedAt: now,
        expiresAt: new Date(now.getTime() + VALID_MS),
        body: command,
      });
      // One gateway's commands commit in the order of their seq (a transaction lock per gateway):
      // else a long-poll could read seq n+1 before seq n commits, move its cursor past n and never
      // deliver it.
      const [row] = await this.db.transaction(async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`command:${gatewayId}`}))`);
        return tx
          .insert(gatewayCommands)
          .values({ gatewayId, token })
          .returning({ seq: gatewayCommands.seq });
      });
      if (row) this.latestFor.set(gatewayId, Math.max(row.seq, this.latestFor.get(gatewayId) ?? 0));
      this.wake(gatewayId);
      await this.db.execute(sql`select pg_notify(${COMMANDS_CHANNEL}, ${gatewayId})`);
    } catch (error) {
      this.log(`command ${command.command} for gateway ${gatewayId} not queued: ${error}`);
    }
  }

  /**
   * Signed commands for `gatewayId` after `cursor` (the seq of the last one it received), waiting
   * up to `waitMs` for one to arrive. Returns the new cursor: the last command's seq, else at
   * least the newest seq this instance knows (0 for a cursor larger than any command stored: a
   * database made anew).
   */
  async next(
    gatewayId: string,
    cursor: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<{ cursor: number; commands: string[] }> {
    let horizon = await this.knowHorizon();
    // A cursor from an instance that started later: look again before calling it unknown.
    if (cursor > horizon) horizon = await this.knowHorizon(true);
    const from = cursor > horizon ? 0 : cursor;
    let known = this.latestFor.get(gatewayId) ?? 0;
    let items = await this.pending(gatewayId, from, horizon);
    const deadline = Date.now() + waitMs;
    while (items.length === 0 && Date.now() < deadline && !signal?.aborted) {
      // A command that arrived while the rows were being read woke nobody: read again at once.
      if ((this.latestFor.get(gatewayId) ?? 0) === known)
        await this.waitForWake(gatewayId, deadline - Date.now(), signal);
      known = this.latestFor.get(gatewayId) ?? 0;
      items = await this.pending(gatewayId, from, horizon);
    }
    // Nothing new: the cursor moves at most to this gateway's newest committed command (its
    // commands commit in seq order), never to the global horizon — a seq below the horizon may
    // still be in flight for this gateway and must not be skipped.
    return {
      cursor: items.at(-1)?.seq ?? Math.max(from, this.latestFor.get(gatewayId) ?? 0),
      commands: items.map((i) => i.token),
    };
  }

  /**
   * Stored commands after `from`. Skips the query when every command above the horizon is known
   * (`latestFor`) and none is newer than `from` for this gateway: most long-polls of a quiet fleet.
   */
  private async pending(
    gatewayId: string,
    from: number,
    horizon: number,
  ): Promise<{ seq: number; token: string }[]> {
    const known = from >= horizon || this.read.has(gatewayId);
    if (known && (this.latestFor.get(gatewayId) ?? 0) <= from) return [];
    const rows = await this.db
      .select({ seq: gatewayCommands.seq, token: gatewayCommands.token })
      .from(gatewayCommands)
      .where(
        and(
          eq(gatewayCommands.gatewayId, gatewayId),
          gt(gatewayCommands.seq, from),
          gt(gatewayCommands.createdAt, new Date(this.clock.now().getTime() - KEEP_MS)),
        ),
      )
      .orderBy(asc(gatewayCommands.seq));
    // Rows at or below the horizon are read once per gateway; above it latestFor knows them all.
    this.read.add(gatewayId);
    return rows;
  }

  private waitForWake(gatewayId: string, ms: number, signal?: AbortSignal): Promise<void> {
    let set = this.waiters.get(gatewayId);
    if (!set) {
      set = new Set();
      this.waiters.set(gatewayId, set);
    }
    const waiting = set;
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        waiting.delete(done);
        if (waiting.size === 0 && this.waiters.get(gatewayId) === waiting)
          this.waiters.delete(gatewayId);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      waiting.add(done);
      signal?.addEventListener("abort", done);
    });
  }

  private wake(gatewayId: string): void {
    for (const done of this.waiters.get(gatewayId) ?? []) done();
  }

  /** The newest seq stored when this instance first looked (`again`: look now). */
  private async knowHorizon(again = false): Promise<number> {
    if (this.horizon === null || again) {
      const [row] = await this.db.select({ seq: max(gatewayCommands.seq) }).from(gatewayCommands);
      const seq = Number(row?.seq ?? 0);
      this.horizon = Math.max(this.horizon ?? 0, seq);
      this.rereadFrom ??= seq;
    }
    return this.horizon;
  }

  /**
   * Reads which gateways got commands since the last look (another instance's NOTIFY may have
   * been lost) and wakes their long-polls; prunes commands past KEEP_MS now and then. Rows of the
   * last LATE_MS are read again too: a seq is drawn before its row commits, so a row may appear
   * below a seq already seen.
   */
  async reread(): Promise<void> {
    if (this.rereading) {
      this.again = true;
      return;
    }
    this.rereading = true;
    try {
      do {
        this.again = false;
        const now = this.clock.now().getTime();
        const fresh = await this.db
          .select({ gatewayId: gatewayCommands.gatewayId, seq: max(gatewayCommands.seq) })
          .from(gatewayCommands)
          .where(
            or(
              gt(gatewayCommands.seq, this.rereadFrom ?? (await this.knowHorizon())),
              gt(gatewayCommands.createdAt, new Date(now - LATE_MS)),
            ),
          )
          .groupBy(gatewayCommands.gatewayId);
        for (const { gatewayId, seq } of fresh) {
          const n = Number(seq);
          this.rereadFrom = Math.max(this.rereadFrom ?? 0, n);
          if (n <= (this.latestFor.get(gatewayId) ?? 0)) continue;
          this.latestFor.set(gatewayId, n);
          this.wake(gatewayId);
        }
        if (now - this.lastPrune > KEEP_MS) {
          this.lastPrune = now;
          await this.db
            .delete(gatewayCommands)
            .where(lt(gatewayCommands.createdAt, new Date(now - 2 * KEEP_MS)));
        }
      } while (this.again);
    } catch (error) {
      this.log(`reading new gateway commands failed: ${error}`);
    } finally {
      this.rereading = false;
    }
  }
}
