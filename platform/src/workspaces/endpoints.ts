// The workspace Docker endpoints (MEETPOINT_WORKSPACE_DOCKER, one or more hosts) and which one a
// start, a stop or a backup uses: a start goes first to the endpoint the workspace last ran on (its
// home volume is there), then to the others in the configured order; everything that acts on a
// run's objects later uses the endpoint the run recorded.
import { type Cidr, subBlock } from "@meetpoint/common";
import type Docker from "dockerode";
import { and, desc, eq, isNotNull } from "drizzle-orm";
import { type DockerEndpoint, dockerEndpointText } from "../config.ts";
import { type Db, workspaceRuns } from "../db/index.ts";
import { UnavailableError } from "../shared/index.ts";
import { workspaceDocker } from "./docker.ts";
import {
  dockerFailure,
  removeContainer,
  removeNetwork,
  removeWorkspaceObjects,
} from "./docker-objects.ts";

/** One configured Docker endpoint: its name as the operator wrote it, and its client. */
export interface WorkspaceEndpoint {
  /** "unix:///var/run/docker.sock", "tcp://ws-b:2376": shown on pages, stored on runs. */
  name: string;
  docker: Docker;
}

/**
 * The part of the workspace network pool that the endpoint at `index` of `count` cuts its networks
 * from: the pool split in 2^⌈log2 count⌉ equal blocks, one each. Two hosts then never hand out the
 * same subnet — the relay and the start check reach a desktop by its bare address, so a subnet on
 * two hosts could lead to another customer's desktop. Null when the pool is too small to give each
 * endpoint a block of `networkPrefix`. Pure.
 */
export function endpointPool(
  pool: Cidr,
  networkPrefix: number,
  index: number,
  count: number,
): Cidr | null {
  const bits = Math.ceil(Math.log2(Math.max(1, count)));
  const slice = subBlock(pool, pool.prefix + bits, index);
  return slice && slice.prefix <= networkPrefix ? slice : null;
}

/**
 * Clients for the configured endpoints, in their order. Throws (naming the file) when a TLS
 * endpoint's certificate files cannot be read; opens no connection.
 */
export function workspaceEndpoints(configured: DockerEndpoint[]): WorkspaceEndpoint[] {
  return configured.map((endpoint) => ({
    name: dockerEndpointText(endpoint),
    docker: workspaceDocker(endpoint),
  }));
}

/**
 * The endpoint of each replica of a start, replica 1 first: the endpoint the workspace last ran on
 * (when it is still among `names`), then the others in their configured order, cycling when there
 * are more replicas than endpoints. Pure. `names` must not be empty; `replicas` ≥ 1.
 */
export function endpointOrder(names: string[], lastRan: string | null, replicas: number): string[] {
  if (names.length === 0) throw new Error("no workspace Docker endpoint configured");
  const order =
    lastRan && names.includes(lastRan) ? [lastRan, ...names.filter((n) => n !== lastRan)] : names;
  return Array.from({ length: Math.max(1, replicas) }, (_, i) => order[i % order.length] ?? "");
}

/**
 * The endpoint name of the workspace's newest run that reached running (where its home volume
 * is), or null when it never ran. A run recorded before runs named their endpoint ran on the
 * single endpoint of that time: `first` (the first configured one).
 */
export async function lastRanEndpoint(
  db: Db,
  workspaceId: string,
  first: string,
): Promise<string | null> {
  const [run] = await db
    .select({ endpoint: workspaceRuns.dockerEndpoint })
    .from(workspaceRuns)
    .where(and(eq(workspaceRuns.workspaceId, workspaceId), isNotNull(workspaceRuns.runningAt)))
    .orderBy(desc(workspaceRuns.runningAt))
    .limit(1);
  if (!run) return null;
  return run.endpoint ?? first;
}

/**
 * The configured endpoint a run's objects are on: the one it recorded (null: the first, see
 * lastRanEndpoint), or null when that endpoint is no longer configured.
 */
export function endpointOfRun(
  endpoints: WorkspaceEndpoint[],
  run: { dockerEndpoint: string | null },
): WorkspaceEndpoint | null {
  if (run.dockerEndpoint === null) return endpoints[0] ?? null;
  return endpoints.find((e) => e.name === run.dockerEndpoint) ?? null;
}

/**
 * The endpoint holding the workspace's home volume: the one of its newest run that reached
 * running; the first configured when it never ran. Throws when that endpoint is no longer
 * configured (naming it).
 */
export async function homeEndpoint(
  db: Db,
  endpoints: WorkspaceEndpoint[],
  workspaceId: string,
): Promise<WorkspaceEndpoint> {
  const first = endpoints[0];
  if (!first) throw new Error("no workspace Docker endpoint configured");
  const name = await lastRanEndpoint(db, workspaceId, first.name);
  if (name === null) return first;
  const endpoint = endpoints.find((e) => e.name === name);
  if (!endpoint)
    throw new Error(
      `the workspace last ran on ${name}, which MEETPOINT_WORKSPACE_DOCKER no longer lists`,
    );
  return endpoint;
}

/** Whether a Docker failure in words (dockerFailure) says the endpoint could not be reached. */
export const unreachable = (message: string) => /cannot be reached|did not answer \(/.test(message);

/**
 * Removes the workspace's containers and network, with `volume` its home volume too, on every
 * endpoint (trying each). Returns the failures in words, each naming its endpoint; [] when all
 * went.
 */
export async function removeEverywhere(
  endpoints: WorkspaceEndpoint[],
  workspaceId: string,
  options: { volume: boolean },
): Promise<string[]> {
  const failed: string[] = [];
  for (const endpoint of endpoints)
    await removeWorkspaceObjects(endpoint.docker, workspaceId, options).catch((error) =>
      failed.push(`${endpoint.name}: ${dockerFailure(error, endpoint.name, "")}`),
    );
  return failed;
}

/**
 * Removes a stopping run's container and network on its endpoint. Returns null when done; the
 * reason in words when its endpoint cannot be reached or is no longer configured (the container
 * may be left there: the sweep's removeOrphans takes it once the endpoint answers). Other Docker
 * failures propagate.
 */
export async function removeRunObjects(
  endpoints: WorkspaceEndpoint[],
  run: { dockerEndpoint: string | null; containerName: string | null; networkName: string | null },
): Promise<string | null> {
  const endpoint = endpointOfRun(endpoints, run);
  if (!endpoint)
    return `Its Docker endpoint ${run.dockerEndpoint} is no longer configured: its container may still run there.`;
  try {
    if (run.containerName) await removeContainer(endpoint.docker, run.containerName);
    if (run.networkName) await removeNetwork(endpoint.docker, run.networkName);
    return null;
  } catch (error) {
    const message = dockerFailure(error, endpoint.name, "");
    if (!unreachable(message)) throw error;
    return `${message} Its container is removed when the endpoint answers again.`;
  }
}

/**
 * Before a workspace is deleted: removes its containers and network on every endpoint, then (only
 * when every endpoint did) its home volume on every endpoint. Throws UnavailableError naming each
 * endpoint that failed, so the delete is refused rather than leaving a home on a host nobody
 * looks at; returns the endpoints' names.
 */
export async function removeForDelete(
  endpoints: WorkspaceEndpoint[],
  workspaceId: string,
): Promise<string[]> {
  const left = await removeEverywhere(endpoints, workspaceId, { volume: false });
  if (left.length)
    throw new UnavailableError(
      `The workspace was not deleted, its home volumes are untouched: ${left.join(" ")}`,
    );
  const homes = await removeEverywhere(endpoints, workspaceId, { volume: true });
  if (homes.length)
    throw new UnavailableError(
      `The workspace was not deleted, its home volume is left on: ${homes.join(" ")}`,
    );
  return endpoints.map((e) => e.name);
}
