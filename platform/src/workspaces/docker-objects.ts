// The Docker objects of a customer's workspace and how they are named and found: its own bridge
// network (a subnet cut from the configured pool, containers on it cannot talk to each other), its
// home volume, its replicas' containers. Pure helpers plus the few dockerode calls that make them.
import {
  blockSize,
  type Cidr,
  formatCidr,
  formatIpv4,
  parseCidr,
  subBlock,
} from "@meetpoint/common";
import type Docker from "dockerode";

/** The home volume of a workspace; fixed: the backups (issue 17) archive it by this name. */
export const homeVolumeName = (workspaceId: string) => `meetpoint-home-${workspaceId}`;
/** The workspace's Docker network. */
export const networkName = (workspaceId: string) => `meetpoint-ws-${workspaceId}`;
/** Replica `n` (1-based) of the workspace's container. */
export const containerName = (workspaceId: string, replica: number) =>
  `meetpoint-ws-${workspaceId}-${replica}`;
/** Label every object carries: the workspace id. */
export const WORKSPACE_LABEL = "meetpoint.workspace";

/** Seconds a single Docker API call may take before it counts as failed. */
const DOCKER_CALL_MS = 30_000;

/** Runs a Docker API call with a deadline; rejects with "<what>: no answer within 30 s". */
export async function dockerCall<T>(what: string, call: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      call,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what}: no answer within ${DOCKER_CALL_MS / 1000} s`)),
          DOCKER_CALL_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The first `prefix`-sized block of `pool` that overlaps none of `taken` (IPv4 subnets of the
 * Docker host's networks); null when the pool is full. Pure.
 */
export function pickSubnet(pool: Cidr, prefix: number, taken: Cidr[]): Cidr | null {
  const count = blockSize(pool.prefix) / blockSize(prefix);
  for (let index = 0; index < count; index++) {
    const block = subBlock(pool, prefix, index);
    if (!block) return null;
    const end = block.base + blockSize(block.prefix);
    const overlaps = taken.some((t) => t.base < end && block.base < t.base + blockSize(t.prefix));
    if (!overlaps) return block;
  }
  return null;
}

/** A workspace network: its name, subnet and gateway (this host's address on it). */
export interface WorkspaceNetwork {
  name: string;
  subnet: string;
  gateway: string;
}

/**
 * The workspace's network, created when missing: a bridge with inter-container communication off,
 * its subnet the first free block of `pool`. An existing one (left by an earlier run) is reused.
 * Throws (wrapped) when the endpoint fails or the pool is full.
 */
export async function ensureNetwork(
  docker: Docker,
  workspaceId: string,
  pool: Cidr,
  prefix: number,
): Promise<WorkspaceNetwork> {
  const name = networkName(workspaceId);
  const existing = await dockerCall("inspect network", docker.getNetwork(name).inspect()).catch(
    (error) => {
      if ((error as { statusCode?: number }).statusCode === 404) return null;
      throw error;
    },
  );
  const ipam = (info: Docker.NetworkInspectInfo | null) => info?.IPAM?.Config?.[0];
  const found = ipam(existing);
  if (found?.Subnet && found.Gateway) return { name, subnet: found.Subnet, gateway: found.Gateway };
  // Docker refuses an overlapping subnet itself; a race with another start just tries the next.
  for (let attempt = 0; attempt < 5; attempt++) {
    const networks = await dockerCall("list networks", docker.listNetworks());
    const taken = networks
      .flatMap((n) => n.IPAM?.Config ?? [])
      .map((c) => parseCidr(c.Subnet ?? ""))
      .filter((c): c is Cidr => c !== null);
    const block = pickSubnet(pool, prefix, taken);
    if (!block) throw new Error(`the workspace network pool ${formatCidr(pool)} is full`);
    const subnet = formatCidr(block);
    const gateway = formatIpv4(block.base + 1);
    try {
      await dockerCall(
        "create network",
        docker.createNetwork({
          Name: name,
          Driver: "bridge",
          CheckDuplicate: true,
          Labels: { [WORKSPACE_LABEL]: workspaceId },
          IPAM: { Config: [{ Subnet: subnet, Gateway: gateway }] },
          Options: {
            "com.docker.network.bridge.enable_icc": "false",
            // Linux bridge names have at most 15 characters.
            "com.docker.network.bridge.name": `mpws${workspaceId.replaceAll("-", "").slice(0, 10)}`,
          },
        }),
      );
      return { name, subnet, gateway };
    } catch (error) {
      const message = (error as { json?: { message?: string } }).json?.message ?? "";
      if (!/overlap/i.test(message)) throw error;
    }
  }
  throw new Error("no free subnet after 5 attempts (networks being created in parallel)");
}

/** Removes the workspace's network; a missing one is fine. */
export async function removeNetwork(docker: Docker, name: string): Promise<void> {
  await dockerCall("remove network", docker.getNetwork(name).remove()).catch((error) => {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  });
}

/** Removes a volume (a workspace's home: its files are gone); a missing one is fine. */
export async function removeVolume(docker: Docker, name: string): Promise<void> {
  await dockerCall("remove volume", docker.getVolume(name).remove()).catch((error) => {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  });
}

/** Removes a container (killing it); a missing one is fine. The home volume stays. */
export async function removeContainer(docker: Docker, name: string): Promise<void> {
  await dockerCall("remove container", docker.getContainer(name).remove({ force: true })).catch(
    (error) => {
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    },
  );
}

/**
 * Removes every container labelled as `workspaceId`'s (WORKSPACE_LABEL), whatever its name or
 * replica: what a start cut short may have left. Returns the names removed.
 */
export async function removeWorkspaceContainers(
  docker: Docker,
  workspaceId: string,
): Promise<string[]> {
  const found = await dockerCall(
    "list containers",
    docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`${WORKSPACE_LABEL}=${workspaceId}`] }),
    }),
  );
  for (const c of found) await removeContainer(docker, c.Id);
  return found.map((c) => (c.Names[0] ?? c.Id).replace(/^\//, ""));
}

/**
 * Whether the container runs: false when it exited or is gone (404); null when Docker could not
 * say (an endpoint that fails or does not answer within 30 s).
 */
export async function containerRunning(docker: Docker, name: string): Promise<boolean | null> {
  try {
    return (await dockerCall("inspect container", docker.getContainer(name).inspect())).State
      .Running;
  } catch (error) {
    return (error as { statusCode?: number }).statusCode === 404 ? false : null;
  }
}

/**
 * Removes the workspace's containers (by label) and network on one endpoint, and with `volume`
 * its home volume too. Missing objects are fine; the first other failure propagates.
 */
export async function removeWorkspaceObjects(
  docker: Docker,
  workspaceId: string,
  options: { volume: boolean },
): Promise<void> {
  await removeWorkspaceContainers(docker, workspaceId);
  await removeNetwork(docker, networkName(workspaceId));
  if (options.volume) await removeVolume(docker, homeVolumeName(workspaceId));
}

/**
 * A Docker failure in words for the page and the audit log: an unreachable endpoint, a missing
 * image, or Docker's own message. Walks the `cause` chain (startWorkspace wraps its errors).
 */
export function dockerFailure(error: unknown, endpoint: string, image: string): string {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    const x = e as { code?: string; statusCode?: number; json?: { message?: string } };
    if (
      x.code &&
      ["ENOENT", "ECONNREFUSED", "EACCES", "ETIMEDOUT", "EHOSTUNREACH", "ECONNRESET"].includes(
        x.code,
      )
    )
      return `The workspace Docker endpoint ${endpoint} cannot be reached (${x.code}).`;
    if (x.statusCode === 404 && /image/i.test(x.json?.message ?? ""))
      return `The image ${image} is not on the Docker host: load or pull it there.`;
    if (x.json?.message) return `Docker: ${x.json.message}`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return /no answer within/.test(message)
    ? `The workspace Docker endpoint ${endpoint} did not answer (${message}).`
    : message;
}

/**
 * The image reference to create a container from. A template pins `repository@sha256:<hex>`: a
 * registry digest, used as it is when the Docker host knows it; else, for an image built or loaded
 * on that host (no registry digest), the local image whose ID is that digest and which is tagged
 * in `repository` — an image ID is a content hash as well. Throws Docker's 404 ("No such image")
 * when neither exists.
 */
export async function resolveImage(docker: Docker, reference: string): Promise<string> {
  try {
    await dockerCall("inspect image", docker.getImage(reference).inspect());
    return reference;
  } catch (error) {
    const match = /^(.+)@(sha256:[0-9a-f]{64})$/.exec(reference);
    if ((error as { statusCode?: number }).statusCode !== 404 || !match) throw error;
    const local = await dockerCall(
      "inspect image",
      docker.getImage(match[2] ?? "").inspect(),
    ).catch(() => null);
    const tags = local?.RepoTags ?? [];
    if (local && local.Id === match[2] && tags.some((t) => t.startsWith(`${match[1]}:`)))
      return local.Id;
    throw error;
  }
}
