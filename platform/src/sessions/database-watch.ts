// Fail closed without the database: nothing can be decided, ended on time or audited, so once the
// session tick has not succeeded for the grace period — failing, or hanging on a server that went
// silent — every grant and connection is cut; when a tick succeeds again, the cut sessions are
// recorded as ended.
export interface WatchedSessions {
  tick(): Promise<void>;
  cutForLostDatabase(): Promise<void>;
  recordDatabaseCut(): Promise<number>;
}

export class DatabaseWatch {
  private lastSuccess: number;
  private ticking = false;
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

  /** Called every second: cuts when the grace period has passed, and starts a tick if none runs. */
  async beat(): Promise<void> {
    if (!this.cut && this.now() - this.lastSuccess >= this.graceMs) {
      this.cut = true;
      this.log(
        `The database has been unreachable for ${Math.round(this.graceMs / 1000)} s: all remote access cut (fail closed) until it is back.`,
      );
      await this.sessions.cutForLostDatabase().catch((e) => this.log("cutting access failed:", e));
    }
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.sessions.tick();
      if (this.cut) {
        const ended = await this.sessions.recordDatabaseCut();
        this.cut = false;
        console.log(
          `Database reachable again: ${ended} session(s) cut while it was away are recorded as ended.`,
        );
      }
      this.lastSuccess = this.now();
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.log("session tick failed:", error);
      this.failing = true;
    } finally {
      this.ticking = false;
    }
  }
}
