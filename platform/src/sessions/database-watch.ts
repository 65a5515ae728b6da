// Fail closed without the database: nothing can be decided, ended on time or audited, so once the
// session tick has not succeeded for the grace period — failing, or hanging on a server that went
// silent — every grant and connection is cut; when a tick succeeds again, the cut sessions are
// recorded as ended. A tick stuck on one dead connection does not stop the next from trying
// another (at most a few at once), so one bad connection alone never cuts access.
export interface WatchedSessions {
  tick(): Promise<void>;
  cutForLostDatabase(): Promise<void>;
  recordDatabaseCut(): Promise<number>;
}

/** A tick running this long counts as stuck: another may start beside it. */
const STUCK_MS = 2000;
const MAX_TICKS = 3;

export class DatabaseWatch {
  private lastSuccess: number;
  private readonly running = new Set<number>();
  private cut = false;
  private failing = false;

  constructor(
    private readonly sessions: WatchedSessions,
    private readonly graceMs: number,
    private readonly now: () => number = Date.now,
    private readonly log: (line: string, error?: unknown) => void = console.error,
  ) {
    this.lastSuccess = now();
  }

  /** Called every second: cuts when the grace period has passed, and starts a tick when due. */
  async beat(): Promise<void> {
    const started = this.now();
    if (!this.cut && started - this.lastSuccess >= this.graceMs) {
      this.cut = true;
      this.log(
        `The database has been unreachable for ${Math.round(this.graceMs / 1000)} s: all remote access cut (fail closed) until it is back.`,
      );
      await this.sessions.cutForLostDatabase().catch((e) => this.log("cutting access failed:", e));
    }
    const stuck = [...this.running].every((at) => started - at >= STUCK_MS);
    if (this.running.size >= MAX_TICKS || !stuck) return;
    this.running.add(started);
    try {
      await this.sessions.tick();
      if (this.cut) {
        this.cut = false; // one tick records, even when several succeed at once
        const ended = await this.sessions.recordDatabaseCut().catch((error) => {
          this.cut = true;
          throw error;
        });
        console.log(
          `Database reachable again: ${ended} session(s) cut while it was away are recorded as ended.`,
        );
      }
      this.lastSuccess = Math.max(this.lastSuccess, this.now());
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.log("session tick failed:", error);
      this.failing = true;
    } finally {
      this.running.delete(started);
    }
  }
}
