// The scheduled backup of every workspace's home volume (every MEETPOINT_WORKSPACE_BACKUP_HOURS),
// and the retention that keeps the newest MEETPOINT_WORKSPACE_BACKUP_KEEP per workspace. One
// platform instance at a time runs it, under the job lease "workspace-backups".
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { desc, eq, inArray } from "drizzle-orm";
import { recordAuditAlone, SYSTEM_ACTOR } from "../audit/index.ts";
import { workspaceBackups, workspaces } from "../db/index.ts";
import { type BackupDeps, backupHomeVolume, backupPath } from "./backups.ts";

/** Runs work under a singleton job's lease (JobLeases from instances/); false: another holds it. */
export interface BackupLease {
  run(job: "workspace-backups", work: () => Promise<unknown>, leaseMs?: number): Promise<boolean>;
}

export interface BackupScheduleDeps extends BackupDeps {
  leases: BackupLease;
  /** Interval between runs, in milliseconds (MEETPOINT_WORKSPACE_BACKUP_HOURS). */
  everyMs: number;
  /** Backups kept per workspace, the newest (MEETPOINT_WORKSPACE_BACKUP_KEEP). */
  keep: number;
  log?: (line: string) => void;
}

/** What one scheduled run did: workspaces archived, skipped (no volume), failed; backups deleted. */
export interface BackupRunResult {
  created: number;
  skipped: number;
  failed: number;
  pruned: number;
}

/** How long the lease holds between ticks (ticks come every minute), in milliseconds. */
const LEASE_MS = 150_000;

export class WorkspaceBackupSchedule {
  private lastRun: number | null = null;
  private running = false;

  constructor(private readonly deps: BackupScheduleDeps) {}

  /**
   * Runs the backups when due and when this instance holds the lease; null otherwise. Due: no
   * scheduled backup (in the database, by any instance) and no run of this instance within
   * everyMs of the clock's now. main calls it every minute.
   */
  async tick(): Promise<BackupRunResult | null> {
    if (this.running) return null;
    this.running = true;
    try {
      let result: BackupRunResult | null = null;
      await this.deps.leases.run(
        "workspace-backups",
        async () => {
          if (await this.due()) result = await this.runAll();
        },
        LEASE_MS,
      );
      return result;
    } finally {
      this.running = false;
    }
  }

  private async due(): Promise<boolean> {
    const now = this.deps.clock.now().getTime();
    if (this.lastRun !== null && now - this.lastRun < this.deps.everyMs) return false;
    const [newest] = await this.deps.db
      .select({ at: workspaceBackups.createdAt })
      .from(workspaceBackups)
      .where(eq(workspaceBackups.reason, "scheduled"))
      .orderBy(desc(workspaceBackups.createdAt))
      .limit(1);
    return !newest || now - newest.at.getTime() >= this.deps.everyMs;
  }

  /** Backs up every workspace's home volume, then applies the retention count. */
  async runAll(): Promise<BackupRunResult> {
    this.lastRun = this.deps.clock.now().getTime();
    const all = await this.deps.db.select({ id: workspaces.id }).from(workspaces);
    const result: BackupRunResult = { created: 0, skipped: 0, failed: 0, pruned: 0 };
    for (const { id } of all) {
      try {
        const outcome = await backupHomeVolume(this.deps, id, "scheduled");
        result[outcome.kind === "created" ? "created" : "skipped"]++;
      } catch (error) {
        // Audited as workspace.backup_failed by backupHomeVolume; the other workspaces go on.
        result.failed++;
        this.deps.log?.(`workspace backup of ${id} failed: ${(error as Error).message}`);
      }
    }
    result.pruned = await pruneBackups(this.deps, this.deps.keep);
    return result;
  }
}

/**
 * Deletes each workspace's backups beyond the newest `keep` (files and rows), and the archives of
 * workspaces that were deleted (their rows went with them), audited once as
 * workspace.backups_pruned with the counts per workspace (failed: files that could not be deleted;
 * their rows stay so the next run tries again). Nothing deleted → no entry. Returns how many.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export async function pruneBackups(deps: BackupDeps, keep: number): Promise<number> {
  const rows = await deps.db
    .select({
      id: workspaceBackups.id,
      workspaceId: workspaceBackups.workspaceId,
      file: workspaceBackups.file,
    })
    .from(workspaceBackups)
    .orderBy(workspaceBackups.workspaceId, desc(workspaceBackups.createdAt));
  const seen = new Map<string, number>();
  const deleted: string[] = [];
  const perWorkspace: Record<string, number> = {};
  const failed: string[] = [];
  for (const row of rows) {
    const n = (seen.get(row.workspaceId) ?? 0) + 1;
    seen.set(row.workspaceId, n);
    if (n <= keep) continue;
    try {
      rmSync(backupPath(deps.dir, row), { force: true });
      deleted.push(row.id);
      perWorkspace[row.workspaceId] = (perWorkspace[row.workspaceId] ?? 0) + 1;
    } catch (error) {
      failed.push(`${row.file}: ${(error as Error).message}`);
    }
  }
  if (deleted.length)
    await deps.db.delete(workspaceBackups).where(inArray(workspaceBackups.id, deleted));
  // A deleted workspace's directory: its rows are gone, nothing can restore from it.
  const existing = new Set(
    (await deps.db.select({ id: workspaces.id }).from(workspaces)).map((w) => w.id),
  );
  const orphans: string[] = [];
  const root = deps.dir;
  const dirs = existsSync(root) ? readdirSync(root, { withFileTypes: true }) : [];
  for (const entry of dirs) {
    if (!entry.isDirectory() || !UUID.test(entry.name) || existing.has(entry.name)) continue;
    try {
      rmSync(join(root, entry.name), { recursive: true, force: true });
      orphans.push(entry.name);
    } catch (error) {
      failed.push(`${entry.name}/: ${(error as Error).message}`);
    }
  }
  if (deleted.length || failed.length || orphans.length)
    await recordAuditAlone(deps.db, deps.clock, {
      actor: SYSTEM_ACTOR,
      action: "workspace.backups_pruned",
      result: failed.length ? "failed" : "ok",
      detail: {
        keep,
        deleted: deleted.length,
        perWorkspace,
        ...(orphans.length ? { deletedWorkspaces: orphans } : {}),
        ...(failed.length ? { failed } : {}),
      },
    });
  return deleted.length;
}
