// Singleton jobs over several platform instances (retention with head exports and verification,
// sweeping lost instances, forgetting stale logins): one instance at a time holds a job's lease and runs it; when it stops
// (or dies), another takes the job over once the lease has run out.
//
// Why a row lease rather than pg_try_advisory_lock: a session advisory lock belongs to one
// connection, and the platform's queries go through a pool (postgres.js hands each query to any of
// its connections), so it would need a dedicated connection per instance whose silent loss drops
// the lock while the instance keeps working as if it held it. A row with an expiry works the same
// on PGlite and PostgreSQL through the ordinary handle, says in a table who holds what until when,
// and is judged by the injected clock in tests. The jobs it guards are idempotent (an end is
// claimed once in its own transaction), so a holder that overruns its lease does no harm.
import { and, eq, lt, or } from "drizzle-orm";
import { type Db, jobLeases } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";

/** The singleton jobs, by lease name. */
export type SingletonJob =
  | "retention"
  | "lost-instances"
  | "login-sweeper"
  | "workspace-backups"
  | "workspace-stops";

/** How long a lease holds without renewal, in milliseconds (the take-over delay after a crash). */
export const JOB_LEASE_MS = 10_000;

export class JobLeases {
  /**
   * `holder`: this instance's id; `leaseMs`: how long a taken lease holds (default JOB_LEASE_MS);
   * a clean stop releases at once.
   */
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly holder: string,
    private readonly leaseMs = JOB_LEASE_MS,
  ) {}

  /**
   * Takes or renews `job`'s lease for `leaseMs` (default: the constructor's); false while another
   * holder's lease has not run out. A job ticking every N ms takes a lease longer than N, so its
   * holder keeps it from tick to tick.
   */
  async hold(job: SingletonJob, leaseMs = this.leaseMs): Promise<boolean> {
    const now = this.clock.now();
    const until = new Date(now.getTime() + leaseMs);
    await this.db
      .insert(jobLeases)
      .values({ job, holder: this.holder, until: now })
      .onConflictDoNothing();
    // One UPDATE decides: PostgreSQL re-checks the condition on the locked row, so of two
    // instances racing for an expired lease exactly one gets a row back.
    const rows = await this.db
      .update(jobLeases)
      .set({ holder: this.holder, until })
      .where(
        and(
          eq(jobLeases.job, job),
          or(eq(jobLeases.holder, this.holder), lt(jobLeases.until, now)),
        ),
      )
      .returning({ job: jobLeases.job });
    return rows.length > 0;
  }

  /**
   * Runs `work` when this instance holds (or can take) `job`'s lease; returns whether it ran.
   * Errors of `work` propagate.
   */
  async run(job: SingletonJob, work: () => Promise<unknown>, leaseMs?: number): Promise<boolean> {
    if (!(await this.hold(job, leaseMs))) return false;
    await work();
    return true;
  }

  /** Gives up every lease this instance holds (a clean stop: others take over at once). */
  async releaseAll(): Promise<void> {
    await this.db
      .update(jobLeases)
      .set({ until: new Date(0) })
      .where(eq(jobLeases.holder, this.holder));
  }
}
