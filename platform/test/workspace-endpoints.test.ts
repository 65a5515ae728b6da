// Several workspace Docker endpoints without a Docker host (two sockets that do not exist): a
// start tries its replicas across them, the endpoint last run on first, and names each endpoint in
// the failure and the audit entry; Stop of a run whose endpoint cannot be reached (or is no longer
// configured) stops it anyway and says the container may be left; a delete that cannot remove
// the Docker objects everywhere deletes nothing; an abandoned start is failed though no endpoint
// answers; the page's progress names the endpoint of each replica (two sockets that accept and
// drop). The same with the real dockerd: workspace-failover.test.ts.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "@meetpoint/common";
import Docker from "dockerode";
import { eq } from "drizzle-orm";
import { workspaceRuns, workspaces } from "../src/db/index.ts";
import { sweepWorkspaces, WorkspaceRuntime } from "../src/workspaces/index.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import {
  approvedTemplate,
  customerWorkspace,
  secondAdmin,
  socketRuntime,
} from "./support/workspace-runtime.ts";

const dir = `/nonexistent/meetpoint-${crypto.randomUUID()}`;
const A = `unix://${dir}/a.sock`;
const B = `unix://${dir}/b.sock`;
const IMAGE = `meetpoint/workspace@sha256:${"cd".repeat(32)}`;
const logged: string[] = [];
let p: TestPlatform;
let runtime: WorkspaceRuntime;
let templateId = "";

beforeAll(async () => {
  p = await testPlatform({
    extraDeps: ({ db, clock, pki }) => {
      runtime = socketRuntime(
        { db, clock, pki },
        [A, B].map((name) => name.slice("unix://".length)),
        (line) => logged.push(line),
      );
      return { workspaceRuntime: runtime };
    },
  });
  templateId = await approvedTemplate(p, await secondAdmin(p), "Desk", IMAGE, { replicas: 3 });
});

afterAll(async () => {
  await p?.dispose();
});

/** A run of the workspace as the runtime leaves one (state, endpoint, Docker objects). */
async function recordedRun(
  workspaceId: string,
  values: Partial<typeof workspaceRuns.$inferInsert>,
) {
  p.clock.advance(1000);
  const [run] = await p.database.db
    .insert(workspaceRuns)
    .values({
      workspaceId,
      state: "stopped",
      startedAt: p.clock.now(),
      containerName: `meetpoint-ws-${workspaceId}-1`,
      networkName: `meetpoint-ws-${workspaceId}`,
      ...values,
    })
    .returning();
  return run;
}

test("a start tries the endpoint last run on first, then the other; one unreachable endpoint gets no second replica", async () => {
  const scene = await customerWorkspace(p, "Acme", templateId);
  // It last ran on B (its home is there); an older run on A and a newer failed start do not count.
  await recordedRun(scene.workspaceId, { dockerEndpoint: A, runningAt: p.clock.now() });
  await recordedRun(scene.workspaceId, { dockerEndpoint: B, runningAt: p.clock.now() });
  await recordedRun(scene.workspaceId, { dockerEndpoint: A, state: "failed" });
  p.clock.advance(1000);
  const run = await runtime.start(p.adminCtx, scene.workspaceId);
  await runtime.settled(run.id);
  const failed = await runtime.latestRun(scene.workspaceId);
  expect(failed?.state).toBe("failed");
  // Three replicas on [B, A, B]: the third is not tried on B, which could not be reached.
  expect(failed?.message).toBe(
    `replica 1 on ${B}: The workspace Docker endpoint ${B} cannot be reached (ENOENT).; replica 2 on ${A}: The workspace Docker endpoint ${A} cannot be reached (ENOENT).`,
  );
  expect(failed?.dockerEndpoint).toBe(A);
  const entry = await p.lastAudit("workspace.start");
  expect(entry?.result).toBe("failed");
  expect(entry?.detail).toMatchObject({
    failedReplicas: [
      { replica: 1, endpoint: B, error: expect.stringContaining("cannot be reached") },
      { replica: 2, endpoint: A, error: expect.stringContaining("cannot be reached") },
    ],
  });
  const page = await (await scene.technician.get(`/workspaces/${scene.workspaceId}/run`)).text();
  expect(page).toContain(`replica 1 on ${B}`);
});

test("Stop of a run whose endpoint cannot be reached stops it, says the container may be left, audits the endpoint", async () => {
  const scene = await customerWorkspace(p, "Beta", templateId);
  const run = await recordedRun(scene.workspaceId, {
    state: "running",
    dockerEndpoint: B,
    runningAt: p.clock.now(),
  });
  await scene.technician.get(`/workspaces/${scene.workspaceId}`);
  const stop = await scene.technician.post(`/workspaces/${scene.workspaceId}/stop`);
  expect(stop.status).toBe(303);
  const stopped = await runtime.latestRun(scene.workspaceId);
  expect(stopped?.id).toBe(run?.id ?? "");
  expect(stopped?.state).toBe("stopped");
  expect(stopped?.message).toContain(`${B} cannot be reached`);
  expect(stopped?.message).toContain("removed when the endpoint answers again");
  const entry = await p.lastAudit("workspace.stop");
  expect(entry?.detail).toMatchObject({
    reason: "manual",
    endpoint: B,
    containerLeft: expect.stringContaining("cannot be reached"),
  });
  const page = await (await scene.technician.get(`/workspaces/${scene.workspaceId}/run`)).text();
  expect(page).toContain("removed when the endpoint answers again");
  // A run on an endpoint the configuration no longer lists: stopped too, and said so.
  await recordedRun(scene.workspaceId, {
    state: "running",
    dockerEndpoint: "tcp://gone.example:2376",
    runningAt: p.clock.now(),
  });
  await scene.technician.post(`/workspaces/${scene.workspaceId}/stop`);
  const gone = await runtime.latestRun(scene.workspaceId);
  expect(gone?.state).toBe("stopped");
  expect(gone?.message).toContain("tcp://gone.example:2376 is no longer configured");
});

test("a delete that cannot remove the Docker objects on every endpoint deletes nothing (503 naming them)", async () => {
  const scene = await customerWorkspace(p, "Gamma", templateId);
  await p.admin.get(`/workspaces/${scene.workspaceId}`);
  const response = await p.admin.post(`/workspaces/${scene.workspaceId}/delete`);
  expect(response.status).toBe(503);
  const text = await response.text();
  expect(text).toContain(`${A} cannot be reached`);
  expect(text).toContain(`${B} cannot be reached`);
  const [still] = await p.database.db
    .select()
    .from(workspaces)
    .where(eq(workspaces.id, scene.workspaceId));
  expect(still?.id).toBe(scene.workspaceId);
});

test("an abandoned start is failed though no endpoint answers; the cleanup failures are logged", async () => {
  const scene = await customerWorkspace(p, "Delta", templateId);
  await recordedRun(scene.workspaceId, { state: "starting", dockerEndpoint: A });
  p.clock.advance(60_000);
  logged.length = 0;
  const result = await sweepWorkspaces(runtime, 5000);
  expect(result.abandoned).toEqual([scene.workspaceId]);
  expect((await runtime.latestRun(scene.workspaceId))?.state).toBe("failed");
  expect(logged.filter((l) => l.includes("cleaning up unix://")).length).toBe(2);
  // No endpoint answered: no orphan removed, each endpoint's failure logged.
  expect(result.orphans).toEqual([]);
  expect(logged.filter((l) => l.startsWith("workspace orphans on")).length).toBe(2);
});

test("the page's progress names the endpoint each replica is tried on", async () => {
  // Two hosts that accept a connection and drop it after a second without an answer.
  const sockets = mkdtempSync(join(tmpdir(), "meetpoint-slow-docker-"));
  const names = ["slow-a", "slow-b"].map((n) => join(sockets, `${n}.sock`));
  const servers = names.map((unix) =>
    Bun.listen({
      unix,
      socket: { open: (s) => void setTimeout(() => s.end(), 1000), data() {} },
    }),
  );
  try {
    const slow = new WorkspaceRuntime({
      ...runtime.deps,
      endpoints: names.map((n) => ({ name: `unix://${n}`, docker: new Docker({ socketPath: n }) })),
    });
    const scene = await customerWorkspace(p, "Epsilon", templateId);
    p.clock.advance(1000);
    const run = await slow.start(p.adminCtx, scene.workspaceId);
    const seen = new Set<string>();
    await waitFor(
      async () => {
        const text = await (
          await scene.technician.get(`/workspaces/${scene.workspaceId}/run`)
        ).text();
        for (const m of text.matchAll(/starting replica \d of \d on [^…<]+/g)) seen.add(m[0]);
        return /data-run-state="failed"/.test(text);
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    await slow.settled(run.id);
    expect([...seen]).toEqual([
      `starting replica 1 of 3 on unix://${names[0]}`,
      `starting replica 2 of 3 on unix://${names[1]}`,
    ]);
    const failed = await slow.latestRun(scene.workspaceId);
    expect(failed?.message).toContain(
      `replica 1 on unix://${names[0]}: The workspace Docker endpoint unix://${names[0]} cannot be reached (ECONNRESET).`,
    );
    expect(failed?.message).toContain(`replica 2 on unix://${names[1]}: `);
    // Neither answered: the third replica (back on the first) is not tried.
    expect(failed?.message).not.toContain("replica 3");
  } finally {
    for (const server of servers) server.stop(true);
    rmSync(sockets, { recursive: true, force: true });
  }
});
