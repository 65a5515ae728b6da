// Restoring a workspace's home volume from one of its backups: refused while the workspace runs
// or when the file no longer has its stored SHA-256; the volume emptied as root in a helper
// container (DAC_OVERRIDE and FOWNER only), then the archive extracted into it.
import { statSync } from "node:fs";
import type Docker from "dockerode";
import { and, eq, inArray, isNull } from "drizzle-orm";
import { type Context, checkId } from "../access/index.ts";
import { recordAuditAlone } from "../audit/index.ts";
import { type Db, workspaceBackups, workspaceRuns } from "../db/index.ts";
import { NotFoundError, StateError, UnavailableError } from "../shared/index.ts";
import {
  createHelper,
  describe,
  fileDigest,
  HOME_PATH,
  helperImage,
  removeHelper,
} from "./backup-helper.ts";
import { type BackupDeps, backupPath, type WorkspaceBackup } from "./backups.ts";
import { homeVolumeName } from "./docker-objects.ts";
import { homeEndpoint, type WorkspaceEndpoint } from "./endpoints.ts";
import { LIVE_STATES } from "./runtime.ts";
import { managedWorkspace } from "./workspaces.ts";

/** How long a helper container may take to empty a volume, in milliseconds. */
const EMPTY_TIMEOUT_MS = 120_000;

/** Whether the workspace runs or is starting (any live state of its run, creating its network too). */
async function runningRun(db: Db, workspaceId: string): Promise<boolean> {
  const [run] = await db
    .select({ id: workspaceRuns.id })
    .from(workspaceRuns)
    .where(
      and(
        eq(workspaceRuns.workspaceId, workspaceId),
        inArray(workspaceRuns.state, LIVE_STATES),
        isNull(workspaceRuns.stoppedAt),
      ),
    )
    .limit(1);
  return !!run;
}

/** Containers running on the Docker host with the volume mounted (besides what the runs say). */
async function containersUsing(docker: Docker, volume: string): Promise<string[]> {
  const rows = await docker.listContainers({
    filters: { volume: [volume], status: ["running", "restarting", "paused"] },
  });
  return rows.map((r) => r.Names[0]?.replace(/^\//, "") ?? r.Id.slice(0, 12));
}

/**
 * Replaces the workspace's home volume (on homeEndpoint: where it last ran) by the backup: checks
 * the caller manages the workspace (404 unseen, 403 seen but not managed), that it does not run (409: a run without an end in
 * workspace_runs, or a container using the volume), that the file still has the stored SHA-256
 * (409 naming the mismatch or the missing file; nothing changed), then empties the volume as the
 * desktop user in a helper container and extracts the archive into it. Audited
 * workspace.backup_restored (ok, denied with why, or failed with the Docker error: the volume may
 * then be partly emptied, and a second restore completes it). Returns the backup restored.
 */
export async function restoreHomeVolume(
  deps: BackupDeps,
  ctx: Context,
  workspaceId: string,
  backupId: string,
): Promise<WorkspaceBackup> {
  const { workspace, customerName } = await managedWorkspace(ctx, workspaceId);
  const [backup] = await deps.db
    .select()
    .from(workspaceBackups)
    .where(
      and(
        eq(workspaceBackups.id, checkId(backupId, "Backup")),
        eq(workspaceBackups.workspaceId, workspace.id),
      ),
    );
  if (!backup) throw new NotFoundError("Backup");
  const volume = homeVolumeName(workspace.id);
  const audit = (result: "ok" | "denied" | "failed", extra: Record<string, unknown> = {}) =>
    recordAuditAlone(deps.db, deps.clock, {
      actor: ctx.caller.actor,
      action: "workspace.backup_restored",
      result,
      target: { type: "workspace", id: workspace.id },
      customerId: workspace.customerId,
      detail: {
        name: customerName,
        backupId: backup.id,
        backupCreatedAt: backup.createdAt.toISOString(),
        sha256: backup.sha256,
        volume,
        ...extra,
      },
    });
  const refuse = async (code: string, message: string) => {
    await audit("denied", { error: message });
    return new StateError(code, message);
  };
  if (await runningRun(deps.db, workspace.id))
    throw await refuse(
      "ERR_WORKSPACE_RUNNING",
      "The workspace is running: stop it first, then restore its home.",
    );
  const path = backupPath(deps.dir, backup);
  let actual: { sha256: string; size: number };
  try {
    statSync(path);
    actual = await fileDigest(path);
  } catch {
    throw await refuse(
      "ERR_BACKUP_MISSING",
      `The backup's file ${backup.file} is missing or unreadable: nothing was changed.`,
    );
  }
  if (actual.sha256 !== backup.sha256 || actual.size !== backup.sizeBytes)
    throw await refuse(
      "ERR_BACKUP_TAMPERED",
      `The backup's file does not match what was stored (SHA-256 ${actual.sha256.slice(0, 12)}…, ${actual.size} bytes; expected ${backup.sha256.slice(0, 12)}…, ${backup.sizeBytes} bytes): nothing was changed.`,
    );
  let using: string[];
  let home: WorkspaceEndpoint;
  try {
    home = await homeEndpoint(deps.db, deps.endpoints, workspace.id);
    using = await containersUsing(home.docker, volume);
  } catch (error) {
    await audit("failed", { error: describe(error) });
    throw new UnavailableError(`Restoring ${volume} failed: ${describe(error)}`, { cause: error });
  }
  if (using.length)
    throw await refuse(
      "ERR_WORKSPACE_RUNNING",
      `The home volume is in use by ${using.join(", ")}: stop the workspace first.`,
    );
  try {
    const image = await helperImage(deps, home.docker, workspace.id);
    // As root: the desktop user's own chmod 000 must not keep a restore from emptying the home.
    const helper = await createHelper(
      home.docker,
      image,
      workspace.id,
      { readOnly: false, asRoot: true },
      ["find", HOME_PATH, "-mindepth", "1", "-delete"],
    );
    try {
      await helper.start();
      const exit = await withTimeout(helper.wait(), EMPTY_TIMEOUT_MS, "emptying the volume");
      if (exit.StatusCode !== 0) {
        const logs = (await helper.logs({ stdout: true, stderr: true, tail: 5 })).toString();
        throw new Error(`emptying the volume exited ${exit.StatusCode}: ${logs.trim()}`);
      }
      await helper.putArchive(path, { path: HOME_PATH });
    } finally {
      await removeHelper(helper);
    }
  } catch (error) {
    await audit("failed", { error: describe(error) });
    throw new UnavailableError(
      `Restoring ${volume} failed: ${describe(error)}. The home may be partly emptied: restore again.`,
      { cause: error },
    );
  }
  await audit("ok", { file: backup.file, sizeBytes: backup.sizeBytes, endpoint: home.name });
  return backup;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what} timed out after ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
