// Backups of a workspace's home volume (`meetpoint-home-<workspace id>`, mounted at /home/desk):
// archived through the Docker API from a short-lived helper container that is never started (the
// daemon reads the volume for `getArchive`), written as a tar file with its SHA-256; restored into
// the emptied volume with `putArchive` after the file's SHA-256 was checked. Neither needs the
// workspace to run; a restore refuses while it does. With several Docker endpoints the home volume
// used is the one on the endpoint of the workspace's newest run that reached running.
import { createHash } from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type Docker from "dockerode";
import { and, desc, eq, inArray, isNull } from "drizzle-orm";
import { type Context, checkId } from "../access/index.ts";
import { type Actor, recordAuditAlone, SYSTEM_ACTOR } from "../audit/index.ts";
import {
  type BackupReason,
  type Db,
  workspaceBackups,
  workspaceRuns,
  workspaces,
  workspaceTemplates,
} from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import { NotFoundError, StateError, UnavailableError } from "../shared/index.ts";
import { homeVolumeName } from "./docker-objects.ts";
import { homeEndpoint, type WorkspaceEndpoint } from "./endpoints.ts";
import { LIVE_STATES } from "./runtime.ts";
import { managedWorkspace } from "./workspaces.ts";

export type WorkspaceBackup = typeof workspaceBackups.$inferSelect;

/** Where the desktop user's home is mounted in the workspace image (uid/gid 1000). */
export const HOME_PATH = "/home/desk";
/** The helper's image when the workspace's template image is not on the Docker host. */
export const FALLBACK_HELPER_IMAGE = "meetpoint/workspace:latest";
/** How long a helper container may take to empty a volume, in milliseconds. */
const EMPTY_TIMEOUT_MS = 120_000;

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

const statusOf = (error: unknown) => (error as { statusCode?: number }).statusCode;

/** Whether the volume exists on the Docker host (404 → false; other errors propagate). */
async function volumeExists(docker: Docker, name: string): Promise<boolean> {
  try {
    await docker.getVolume(name).inspect();
    return true;
  } catch (error) {
    if (statusOf(error) === 404) return false;
    throw new Error(`inspect volume ${name}`, { cause: error });
  }
}

/**
 * The helper's image: the workspace's approved template image when the Docker host has it (it
 * mounted the volume before, so it exists after any start), else the fallback (workspace/image.sh
 * tags it on the host). Backups never pull: a missing image is an error naming both.
 */
async function helperImage(deps: BackupDeps, docker: Docker, workspaceId: string): Promise<string> {
  const [row] = await deps.db
    .select({ effective: workspaceTemplates.effective })
    .from(workspaces)
    .innerJoin(workspaceTemplates, eq(workspaceTemplates.id, workspaces.templateId))
    .where(eq(workspaces.id, workspaceId));
  const fallback = deps.fallbackImage ?? FALLBACK_HELPER_IMAGE;
  const candidates = [row?.effective?.image, fallback].filter((x): x is string => !!x);
  for (const image of candidates) {
    try {
      await docker.getImage(image).inspect();
      return image;
    } catch (error) {
      if (statusOf(error) !== 404) throw new Error(`inspect image ${image}`, { cause: error });
    }
  }
  throw new Error(`no helper image on the Docker host: neither ${candidates.join(" nor ")}`);
}

/**
 * A helper container on the home volume: no network, read-only root, as the desktop user (uid/gid
 * 1000, who owns everything in the home) with no capabilities — or, `asRoot`, as root with only
 * DAC_OVERRIDE and FOWNER (what it takes to empty a home whose user locked directories with
 * chmod 000). Created, not started.
 */
function createHelper(
  docker: Docker,
  image: string,
  workspaceId: string,
  mount: { readOnly: boolean; asRoot?: boolean },
  command: string[],
): Promise<Docker.Container> {
  return docker.createContainer({
    name: `meetpoint-backup-${workspaceId.slice(0, 8)}-${crypto.randomUUID().slice(0, 8)}`,
    Image: image,
    Entrypoint: command,
    Cmd: [],
    User: mount.asRoot ? "0:0" : "1000:1000",
    NetworkDisabled: true,
    Labels: { "meetpoint.backup-helper": workspaceId },
    HostConfig: {
      Mounts: [
        {
          Type: "volume",
          Source: homeVolumeName(workspaceId),
          Target: HOME_PATH,
          ReadOnly: mount.readOnly,
        },
      ],
      NetworkMode: "none",
      CapDrop: ["ALL"],
      ...(mount.asRoot ? { CapAdd: ["DAC_OVERRIDE", "FOWNER"] } : {}),
      ReadonlyRootfs: true,
      SecurityOpt: ["no-new-privileges"],
      PidsLimit: 64,
    },
  });
}

/** Removes a helper container (forced: it may still run after a timeout); the volume stays. */
async function removeHelper(container: Docker.Container): Promise<void> {
  await container.remove({ force: true });
}

/** A transform that hashes and counts what passes; it fails once more than `maxBytes` passed. */
function hashing(maxBytes = Number.POSITIVE_INFINITY) {
  const hash = createHash("sha256");
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      if (size > maxBytes)
        return done(
          new Error(
            `the home's archive grew past the limit of ${Math.floor(maxBytes / 2 ** 20)} MiB (MEETPOINT_WORKSPACE_BACKUP_MAX_MIB): nothing was kept`,
          ),
        );
      done(null, chunk);
    },
  });
  return { stream, result: () => ({ sha256: hash.digest("hex"), size }) };
}

/** SHA-256 (hex) and size in bytes of a file. */
export async function fileDigest(path: string): Promise<{ sha256: string; size: number }> {
  const h = hashing();
  await pipeline(createReadStream(path), h.stream, async (source) => {
    for await (const _ of source);
  });
  return h.result();
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

/** An error's message with its causes ("inspect image x: connect ENOENT /var/run/docker.sock"). */
function describe(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e instanceof Error && parts.length < 4; e = e.cause)
    parts.push(e.message.trim());
  return parts.join(": ") || String(error);
}

/** The workspace's backups, newest first. The caller checked it may see them. */
export function listBackups(db: Db, workspaceId: string): Promise<WorkspaceBackup[]> {
  return db
    .select()
    .from(workspaceBackups)
    .where(eq(workspaceBackups.workspaceId, workspaceId))
    .orderBy(desc(workspaceBackups.createdAt));
}

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
