// Backups of a workspace's home volume (`meetpoint-home-<workspace id>`, mounted at /home/desk):
// archived through the Docker API from a short-lived helper container that is never started (the
// daemon reads the volume for `getArchive`), written as a tar file with its SHA-256 (restored by
// restore.ts). Neither needs the workspace to run. With several Docker endpoints the home volume
// used is the one on the endpoint of the workspace's newest run that reached running.
import { createWriteStream, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { desc, eq } from "drizzle-orm";
import { type Actor, recordAuditAlone, SYSTEM_ACTOR } from "../audit/index.ts";
import { type BackupReason, type Db, workspaceBackups, workspaces } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import { NotFoundError, UnavailableError } from "../shared/index.ts";
import {
  createHelper,
  describe,
  HOME_PATH,
  hashing,
  helperImage,
  removeHelper,
  volumeExists,
} from "./backup-helper.ts";
import { homeVolumeName } from "./docker-objects.ts";
import { homeEndpoint, type WorkspaceEndpoint } from "./endpoints.ts";

export type WorkspaceBackup = typeof workspaceBackups.$inferSelect;

/** What backups and restores use: the database, the clock, the workspace Docker endpoints, the directory. */
export interface BackupDeps {
  db: Db;
  clock: Clock;
  /** The workspace Docker endpoints (workspaceEndpoints(config.workspaceDocker)); see homeEndpoint. */
  endpoints: WorkspaceEndpoint[];
  /** Absolute directory of the archives (MEETPOINT_WORKSPACE_BACKUPS_DIR). */
  dir: string;
  /** Image for the helper when the template's is absent; default FALLBACK_HELPER_IMAGE. */
  fallbackImage?: string;
  /**
   * Largest archive kept, in bytes (MEETPOINT_WORKSPACE_BACKUP_MAX_MIB); a larger one is cut off
   * and the backup fails. Default: no limit. Bounds what one desktop user's home costs the
   * platform's disk: at most `keep` archives of this size per workspace.
   */
  maxBytes?: number;
}

/** A backup run's outcome for one workspace: an archive, or nothing because no volume exists. */
export type BackupOutcome =
  | { kind: "created"; backup: WorkspaceBackup }
  | { kind: "skipped"; reason: string };

/** The backup's file under `dir`; refuses a stored name that leaves it. */
export function backupPath(dir: string, backup: Pick<WorkspaceBackup, "file">): string {
  const root = resolve(dir);
  const path = resolve(join(root, backup.file));
  if (!path.startsWith(`${root}/`)) throw new Error(`backup file ${backup.file} leaves ${root}`);
  return path;
}

const compactTime = (at: Date) =>
  at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");

/**
 * Archives the workspace's home volume (on homeEndpoint: the endpoint of its newest run that
 * reached running; the first endpoint when it never ran) into
 * `<dir>/<workspace id>/<time>-<id>.tar` (a tar of /home/desk's contents with owners and modes),
 * stores its size and SHA-256 in workspace_backups
 * and audits workspace.backup_created (actor: who pressed "Back up now", or the system). A volume
 * that does not exist (never started) → skipped, nothing written. An archive larger than
 * `deps.maxBytes` is a failure. Any failure → audited
 * workspace.backup_failed with the reason, no file or row left, and an UnavailableError.
 * NotFoundError for an unknown workspace id.
 */
export async function backupHomeVolume(
  deps: BackupDeps,
  workspaceId: string,
  reason: BackupReason,
  actor: Actor = SYSTEM_ACTOR,
): Promise<BackupOutcome> {
  const [workspace] = await deps.db
    .select({ id: workspaces.id, customerId: workspaces.customerId })
    .from(workspaces)
    .where(eq(workspaces.id, workspaceId));
  if (!workspace) throw new NotFoundError("Workspace");
  const volume = homeVolumeName(workspace.id);
  const id = crypto.randomUUID();
  const at = deps.clock.now();
  const file = `${workspace.id}/${compactTime(at)}-${id.slice(0, 8)}.tar`;
  const path = backupPath(deps.dir, { file });
  const partial = `${path}.partial`;
  let endpoint = "";
  try {
    const { docker, name } = await homeEndpoint(deps.db, deps.endpoints, workspace.id);
    endpoint = name;
    if (!(await volumeExists(docker, volume)))
      return {
        kind: "skipped",
        reason: `volume ${volume} does not exist on ${name} (never started)`,
      };
    const image = await helperImage(deps, docker, workspace.id);
    const helper = await createHelper(docker, image, workspace.id, { readOnly: true }, ["true"]);
    let digest: { sha256: string; size: number };
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // "<path>/." archives the directory's contents (entries "./…"), so a restore puts them
      // back into the volume's root, which is writable under a read-only root filesystem.
      const archive = await helper.getArchive({ path: `${HOME_PATH}/.` });
      const h = hashing(deps.maxBytes);
      await pipeline(archive, h.stream, createWriteStream(partial, { mode: 0o600 }));
      digest = h.result();
    } finally {
      await removeHelper(helper);
    }
    renameSync(partial, path);
    const [backup] = await deps.db
      .insert(workspaceBackups)
      .values({
        id,
        workspaceId: workspace.id,
        file,
        sizeBytes: digest.size,
        sha256: digest.sha256,
        reason,
        createdBy: actor.id,
        createdByName: actor.name,
        createdAt: at,
      })
      .returning();
    if (!backup) throw new Error("the backup's row was not stored");
    await recordAuditAlone(deps.db, deps.clock, {
      actor,
      action: "workspace.backup_created",
      target: { type: "workspace", id: workspace.id },
      customerId: workspace.customerId,
      detail: {
        backupId: id,
        reason,
        volume,
        endpoint,
        file,
        sizeBytes: digest.size,
        sha256: digest.sha256,
      },
    });
    return { kind: "created", backup };
  } catch (error) {
    rmSync(partial, { force: true });
    const message = describe(error);
    // The row may exist when only the audit entry failed: then the backup stands, and the error
    // (a database problem) propagates as it is.
    const [stored] = await deps.db
      .select({ id: workspaceBackups.id })
      .from(workspaceBackups)
      .where(eq(workspaceBackups.id, id));
    if (stored) throw error;
    rmSync(path, { force: true });
    await recordAuditAlone(deps.db, deps.clock, {
      actor,
      action: "workspace.backup_failed",
      result: "failed",
      target: { type: "workspace", id: workspace.id },
      customerId: workspace.customerId,
      detail: { reason, volume, endpoint, error: message },
    });
    throw new UnavailableError(`Backing up ${volume} failed: ${message}`, { cause: error });
  }
}

/** The workspace's backups, newest first. The caller checked it may see them. */
export function listBackups(db: Db, workspaceId: string): Promise<WorkspaceBackup[]> {
  return db
    .select()
    .from(workspaceBackups)
    .where(eq(workspaceBackups.workspaceId, workspaceId))
    .orderBy(desc(workspaceBackups.createdAt));
}
