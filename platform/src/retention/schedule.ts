// The audit log's scheduled jobs, driven by an injected clock: prune past the retention period
// (daily), export the head (every MEETPOINT_AUDIT_HEAD_EXPORT_HOURS), verify the chain (daily,
// audited as audit.verify, failed when broken — which alerts). main.ts calls tick() every minute.
import { recordAuditAlone, SYSTEM_ACTOR, verifyAuditChain } from "../audit/index.ts";
import type { Db } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import { pruneRecordings } from "../workspaces/index.ts";
import { exportHead } from "./heads.ts";
import { type PruneResult, prune } from "./prune.ts";
import type { AuditSigner } from "./signing.ts";

export interface RetentionDeps {
  db: Db;
  clock: Clock;
  signer: AuditSigner;
  retentionDays: number;
  head: { file: string | null; everyMs: number };
  /** Workspace recordings: their directory and days kept (pruned with the audit log, daily). */
  recordings?: { dir: string; retentionDays: number };
  /** How often pruning and verification run; default one day. */
  everyMs?: number;
  log?: (line: string) => void;
}

type Job = "prune" | "head" | "verify" | "recordings";

export class RetentionSchedule {
  private readonly last = new Map<Job, number>();
  private running = false;

  constructor(private readonly deps: RetentionDeps) {}

  /** Runs every job that is due (all of them on the first tick); never two ticks at once. */
  async tick(): Promise<{ ran: Job[]; pruned: PruneResult | null }> {
    if (this.running) return { ran: [], pruned: null };
    this.running = true;
    const ran: Job[] = [];
    let pruned: PruneResult | null = null;
    try {
      const day = this.deps.everyMs ?? 86_400_000;
      if (this.due("prune", day)) {
        pruned = await this.run("prune", () => prune(this.deps, this.deps.retentionDays));
        ran.push("prune");
      }
      const recordings = this.deps.recordings;
      if (recordings && this.due("recordings", day)) {
        await this.run("recordings", () =>
          pruneRecordings(
            { ...this.deps, recordingsDir: recordings.dir },
            recordings.retentionDays,
          ),
        );
        ran.push("recordings");
      }
      if (this.due("verify", day)) {
        await this.run("verify", () => this.verify());
        ran.push("verify");
      }
      if (this.due("head", this.deps.head.everyMs)) {
        await this.run("head", () => exportHead({ ...this.deps, file: this.deps.head.file }));
        ran.push("head");
      }
    } finally {
      this.running = false;
    }
    return { ran, pruned };
  }

  private due(job: Job, everyMs: number): boolean {
    const last = this.last.get(job);
    return last === undefined || this.deps.clock.now().getTime() - last >= everyMs;
  }

  private async run<T>(job: Job, work: () => Promise<T>): Promise<T | null> {
    this.last.set(job, this.deps.clock.now().getTime());
    try {
      return await work();
    } catch (error) {
      this.deps.log?.(`audit ${job} job failed: ${(error as Error).message}`);
      return null;
    }
  }

  private async verify(): Promise<void> {
    const result = await verifyAuditChain(this.deps.db);
    await recordAuditAlone(this.deps.db, this.deps.clock, {
      actor: SYSTEM_ACTOR,
      action: "audit.verify",
      result: result.ok ? "ok" : "failed",
      detail: result.ok
        ? { entries: result.entries, headSeq: result.headSeq, headHash: result.headHash }
        : { entries: result.entries, brokenAt: result.brokenAt, reason: result.reason },
    });
    if (!result.ok)
      this.deps.log?.(`AUDIT CHAIN BROKEN at entry ${result.brokenAt}: ${result.reason}`);
  }
}
