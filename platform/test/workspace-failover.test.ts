// Two workspace Docker endpoints against the real dockerd: the first a Unix socket that does not
// exist (a workspace host that is down), the second this host's dockerd. A start fails replica 1
// on the first and runs replica 2 on the second, which the run records and the audit entry names;
// Stop removes the container there; the next start goes to the endpoint last run on first; the
// home backup and restore use that endpoint too; the sweep removes a workspace's leftover container
// and network that no live run accounts for, and leaves another platform's alone; a delete is
// refused while an endpoint is down and removes the home everywhere once it is not. Every
// container, network and volume it made is removed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCidr, waitFor } from "@meetpoint/common";
import Docker from "dockerode";
import { eq } from "drizzle-orm";
import { prerequisite } from "../../common/test/support/prerequisite.ts";
import { buildWorkspaceImage, prerequisiteMissing } from "../../workspace/test/support.ts";
import { workspaceRuns } from "../src/db/index.ts";
import {
  backupHomeVolume,
  containerName,
  deleteWorkspace,
  homeVolumeName,
  networkName,
  restoreHomeVolume,
  sweepWorkspaces,
  WORKSPACE_LABEL,
  type WorkspaceEndpoint,
  WorkspaceRuntime,
} from "../src/workspaces/index.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import {
  approvedTemplate,
  customerWorkspace,
  removeWorkspaceObjects,
  secondAdmin,
} from "./support/workspace-runtime.ts";

const docker = new Docker();
const missing = prerequisite("the workspace failover tests", await prerequisiteMissing(docker));

const DOWN = `/nonexistent/meetpoint-${crypto.randomUUID()}/docker.sock`;
const REAL = "unix:///var/run/docker.sock";
const endpoints: WorkspaceEndpoint[] = [
  { name: `unix://${DOWN}`, docker: new Docker({ socketPath: DOWN }) },
  { name: REAL, docker },
];
let p: TestPlatform;
let runtime: WorkspaceRuntime;
let reports: ReturnType<typeof Bun.serve> | undefined;
let backupsDir = "";
let imageId = "";
let scene: Awaited<ReturnType<typeof customerWorkspace>>;
const strangers: string[] = [];
const logged: string[] = [];

const exists = (object: { inspect(): Promise<unknown> }) =>
  object.inspect().then(
    () => true,
    () => false,
  );

/** Starts the workspace as its technician would; the messages the run showed; the ended run. */
async function startAndWatch() {
  p.clock.advance(1000);
  const started = await runtime.start(p.adminCtx, scene.workspaceId);
  const messages = new Set<string>();
  await waitFor(
    async () => {
      const [row] = await p.database.db
        .select()
        .from(workspaceRuns)
        .where(eq(workspaceRuns.id, started.id));
      if (row?.message) messages.add(row.message);
      return row?.state === "running" || row?.state === "failed";
    },
    { timeoutMs: 90_000, intervalMs: 100 },
  );
  await runtime.settled(started.id);
  const [run] = await p.database.db
    .select()
    .from(workspaceRuns)
    .where(eq(workspaceRuns.id, started.id));
  return { run, messages: [...messages] };
}

describe.skipIf(missing !== null)("workspace failover across Docker endpoints", () => {
  beforeAll(async () => {
    const tag = await buildWorkspaceImage();
    imageId = (await docker.getImage(tag).inspect()).Id;
    const image = `meetpoint/workspace@${imageId}`;
    backupsDir = mkdtempSync(join(tmpdir(), "meetpoint-failover-backups-"));
    let app: TestPlatform["app"] | undefined;
    reports = Bun.serve({
      hostname: "0.0.0.0",
      port: 0,
      fetch: (request, server) =>
        app ? app.fetch(request, server) : new Response(null, { status: 503 }),
    });
    p = await testPlatform({
      extraDeps: ({ db, clock, pki }) => {
        runtime = new WorkspaceRuntime({
          db,
          clock,
          box: pki,
          endpoints,
          startMs: 60_000,
          // Beside Docker's own pools and the other workspace tests' networks.
          networkPool: parseCidr("198.19.248.0/22") ?? { base: 0, prefix: 32 },
          networkPrefix: 28,
          reportUrl: `http://{gateway}:${reports?.port}/api/workspace/v1/report`,
          log: (line) => logged.push(line),
        });
        return { workspaceRuntime: runtime };
      },
    });
    app = p.app;
    const templateId = await approvedTemplate(p, await secondAdmin(p), "Desk", image, {
      replicas: 2,
    });
    scene = await customerWorkspace(p, "Acme", templateId);
  }, 600_000);

  afterAll(async () => {
    const ids = scene ? [scene.workspaceId, ...strangers] : strangers;
    await removeWorkspaceObjects(docker, ids);
    reports?.stop(true);
    await p?.dispose();
    if (backupsDir) rmSync(backupsDir, { recursive: true, force: true });
  });

  test("replica 1 fails on the endpoint that is down, replica 2 runs on the other; the run and the audit entry name it", async () => {
    const { run, messages } = await startAndWatch();
    expect(run?.state).toBe("running");
    expect(run?.dockerEndpoint).toBe(REAL);
    expect(run?.containerName).toBe(containerName(scene.workspaceId, 2));
    expect(messages).toContain(`waiting for the desktop (replica 2 on ${REAL})`);
    const info = await docker.getContainer(containerName(scene.workspaceId, 2)).inspect();
    expect(info.State.Running).toBe(true);
    expect(info.Config.Labels?.[WORKSPACE_LABEL]).toBe(scene.workspaceId);
    const entry = await p.lastAudit("workspace.start");
    expect(entry?.result).toBe("ok");
    expect(entry?.detail).toMatchObject({
      replica: 2,
      endpoint: REAL,
      failedReplicas: [
        {
          replica: 1,
          endpoint: `unix://${DOWN}`,
          error: `The workspace Docker endpoint unix://${DOWN} cannot be reached (ENOENT).`,
        },
      ],
    });
    const page = await (await scene.technician.get(`/workspaces/${scene.workspaceId}/run`)).text();
    expect(page).toContain(`on ${REAL}`);
  }, 120_000);

  test("Stop removes the container and the network on the run's endpoint; the home volume stays", async () => {
    await scene.technician.get(`/workspaces/${scene.workspaceId}`);
    expect((await scene.technician.post(`/workspaces/${scene.workspaceId}/stop`)).status).toBe(303);
    expect((await runtime.latestRun(scene.workspaceId))?.state).toBe("stopped");
    expect(await exists(docker.getContainer(containerName(scene.workspaceId, 2)))).toBe(false);
    expect(await exists(docker.getNetwork(networkName(scene.workspaceId)))).toBe(false);
    expect(await exists(docker.getVolume(homeVolumeName(scene.workspaceId)))).toBe(true);
    expect((await p.lastAudit("workspace.stop"))?.detail).toMatchObject({ endpoint: REAL });
  }, 60_000);

  test("the next start goes to the endpoint the workspace last ran on first", async () => {
    const { run, messages } = await startAndWatch();
    expect(run?.state).toBe("running");
    expect(run?.containerName).toBe(containerName(scene.workspaceId, 1));
    expect(messages).toContain(`waiting for the desktop (replica 1 on ${REAL})`);
    expect(messages.some((m) => m.includes(DOWN))).toBe(false);
    expect((await p.lastAudit("workspace.start"))?.detail).toMatchObject({
      replica: 1,
      endpoint: REAL,
      failedReplicas: [],
    });
    const workspace = await runtime.workspaceById(scene.workspaceId);
    if (!workspace) throw new Error("the workspace is gone");
    await runtime.stop({ id: null, name: "test", ip: null }, workspace, "manual");
    expect(await exists(docker.getContainer(containerName(scene.workspaceId, 1)))).toBe(false);
  }, 120_000);

  test("backup and restore use the home volume on the endpoint the workspace last ran on", async () => {
    const deps = { db: p.database.db, clock: p.clock, endpoints, dir: backupsDir };
    const outcome = await backupHomeVolume(deps, scene.workspaceId, "manual");
    expect(outcome.kind).toBe("created");
    expect((await p.lastAudit("workspace.backup_created"))?.detail).toMatchObject({
      endpoint: REAL,
    });
    if (outcome.kind !== "created") return;
    await restoreHomeVolume(deps, p.adminCtx, scene.workspaceId, outcome.backup.id);
    const restored = await p.lastAudit("workspace.backup_restored");
    expect(restored?.result).toBe("ok");
    expect(restored?.detail).toMatchObject({ endpoint: REAL });
  }, 120_000);

  test("the sweep removes a container and network no live run accounts for, on every endpoint; another platform's stay", async () => {
    const stranger = crypto.randomUUID();
    strangers.push(stranger);
    const made: Docker.Container[] = [];
    for (const id of [scene.workspaceId, stranger])
      made.push(
        await docker.createContainer({
          name: containerName(id, 3),
          Image: imageId,
          Labels: { [WORKSPACE_LABEL]: id },
          HostConfig: { NetworkMode: "none" },
        }),
      );
    await docker.createNetwork({
      Name: networkName(scene.workspaceId),
      Labels: { [WORKSPACE_LABEL]: scene.workspaceId },
      IPAM: { Config: [{ Subnet: "198.19.251.240/28" }] },
    });
    logged.length = 0;
    const result = await sweepWorkspaces(runtime, 60_000);
    expect(result.orphans.sort()).toEqual(
      [
        `${REAL} container ${containerName(scene.workspaceId, 3)}`,
        `${REAL} network ${networkName(scene.workspaceId)}`,
      ].sort(),
    );
    expect(await exists(made[0] as Docker.Container)).toBe(false);
    expect(await exists(docker.getNetwork(networkName(scene.workspaceId)))).toBe(false);
    // Not a workspace of this database: left alone.
    expect(await exists(made[1] as Docker.Container)).toBe(true);
    // The endpoint that is down was looked at, and its failure logged.
    expect(logged.some((l) => l.startsWith(`workspace orphans on unix://${DOWN}`))).toBe(true);
  }, 60_000);

  test("delete: refused while an endpoint is down, the home untouched; then its objects go on every endpoint", async () => {
    const home = docker.getVolume(homeVolumeName(scene.workspaceId));
    expect(await exists(home)).toBe(true);
    await p.admin.get(`/workspaces/${scene.workspaceId}`);
    const refused = await p.admin.post(`/workspaces/${scene.workspaceId}/delete`);
    expect(refused.status).toBe(503);
    expect(await refused.text()).toContain(`unix://${DOWN}`);
    expect(await exists(home)).toBe(true);
    expect(await runtime.workspaceById(scene.workspaceId)).not.toBeNull();
    // The host that was down taken out of the list: the delete goes through.
    const remaining = new WorkspaceRuntime({
      ...runtime.deps,
      endpoints: [endpoints[1] as WorkspaceEndpoint],
    });
    await deleteWorkspace(p.adminCtx, scene.workspaceId, (id) => remaining.removeDockerObjects(id));
    expect(await exists(home)).toBe(false);
    expect(await runtime.workspaceById(scene.workspaceId)).toBeNull();
    expect((await p.lastAudit("workspace.delete"))?.detail).toMatchObject({
      dockerObjectsRemovedOn: [REAL],
    });
  }, 60_000);
});
