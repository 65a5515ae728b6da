// The helper container that reads or writes a workspace's home volume through the Docker API (no
// network, read-only root, never the desktop's container), its image, and the archive's digest.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type Docker from "dockerode";
import { eq } from "drizzle-orm";
import { workspaces, workspaceTemplates } from "../db/index.ts";
import type { BackupDeps } from "./backups.ts";
import { homeVolumeName } from "./docker-objects.ts";

/** Where the desktop user's home is mounted in the workspace image (uid/gid 1000). */
export const HOME_PATH = "/home/desk";
/** The helper's image when the workspace's template image is not on the Docker host. */
export const FALLBACK_HELPER_IMAGE = "meetpoint/workspace:latest";
const statusOf = (error: unknown) => (error as { statusCode?: number }).statusCode;

/** Whether the volume exists on the Docker host (404 → false; other errors propagate). */
export async function volumeExists(docker: Docker, name: string): Promise<boolean> {
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
export async function helperImage(
  deps: BackupDeps,
  docker: Docker,
  workspaceId: string,
): Promise<string> {
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
export function createHelper(
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
export async function removeHelper(container: Docker.Container): Promise<void> {
  await container.remove({ force: true });
}

/** A transform that hashes and counts what passes; it fails once more than `maxBytes` passed. */
export function hashing(maxBytes = Number.POSITIVE_INFINITY) {
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

/** An error's message with its causes ("inspect image x: connect ENOENT /var/run/docker.sock"). */
export function describe(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e instanceof Error && parts.length < 4; e = e.cause)
    parts.push(e.message.trim());
  return parts.join(": ") || String(error);
}
