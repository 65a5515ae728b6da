// Fail closed without the database: nothing can be decided, ended on time or audited, so every
// grant and connection is cut once the database has not answered for the grace period — neither
// its probe (its own connection and deadline, db/reachability.ts) nor a session tick — or once
// every session tick has failed for that long. A slow or hanging tick alone is overload, not a
// lost database: it never cuts while the probe answers. When a tick succeeds again, the cut
// sessions are recorded as ended. A tick stuck on one dead connection does not stop the next from
// trying another (at most a few at once).
export interface WatchedSessions {
  tick(): Promise<void>;
  cutForLostDatabase(): Promise<void>;
  recordDatabaseCut(): Promise<number>;
}

/** A tick running this long counts as stuck: another may start beside it. */
const STUCK_MS = 2000;
const MAX_TICKS = 3;

export class DatabaseWatch {
  private lastTickSuccess: number;
  private readonly running = new Set<number>();
  private cut = false;
  private failing = false;

  /**
   * `lastAnswer`: epoch ms of the database probe's last answer; `graceMs`: how long without an
   * answer (or with failing ticks) before everything is cut.
   */
  constructor(
    private readonly sessions: WatchedSessions,
    private readonly graceMs: number,
    private readonly lastAnswer: () => number,
    private readonly now: () => number = Date.now,
    private readonly log: (line: string, error?: unknown) => void = console.error,
  ) {
    this.lastTickSuccess = now();
  }

  /** Called every second: cuts when the grace period has passed, and starts a tick when due. */
  async beat(): Promise<void> {
    const started = this.now();
    if (!this.cut) {
      const why = this.lostFor(started);
      if (why) {
        this.cut = true;
        this.log(`${why}: all remote access cut (fail closed) until it is back.`);
        await this.sessions
          .cutForLostDatabase()
          .catch((e) => this.log("cutting access failed:", e));
      }
    }
    const stuck = [...this.running].every((at) => started - at >= STUCK_MS);
    if (this.running.size >= MAX_TICKS || !stuck) return;
    this.running.add(started);
    try {
      await this.sessions.tick();
      // The database answered: known before the recording below, which takes a while — a beat
      // meanwhile must not take the old silence for a new one and cut again.
      this.lastTickSuccess = Math.max(this.lastTickSuccess, this.now());
      this.failing = false;
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
    } catch (error) {
      if (!this.failing) this.log("session tick failed:", error);
      this.failing = true;
    } finally {
      this.running.delete(started);
    }
  }

  /** Why the database counts as lost at `at`, or null while it answers. */
  private lostFor(at: number): string | null {
    const seconds = Math.round(this.graceMs / 1000);
    const answered = Math.max(this.lastAnswer(), this.lastTickSuccess);
    if (at - answered >= this.graceMs) return `The database has not answered for ${seconds} s`;
    if (this.failing && at - this.lastTickSuccess >= this.graceMs)
      return `Every session tick has failed for ${seconds} s`;
    return null;
  }
}
