// The workspace runtime without a Docker host: a start against an endpoint that cannot be reached
// fails with a clear message on the page and in the audit log; who may start (404, 409); the
// supervisor's report endpoint (bearer token of a live run, 401/400/413, VPN up/down audited).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { auditEntries, workspaceRuns, workspaces, workspaceTemplates } from "../src/db/index.ts";
import { createCustomer } from "../src/masterdata/index.ts";
import {
  allowListText,
  createWorkspace,
  deleteWorkspace,
  settingsVersion,
  sweepWorkspaces,
  type WorkspaceRuntime,
} from "../src/workspaces/index.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import {
  approvedTemplate,
  customerWorkspace,
  secondAdmin,
  socketRuntime,
} from "./support/workspace-runtime.ts";

const SOCKET = `/nonexistent/meetpoint-${crypto.randomUUID()}/docker.sock`;
const IMAGE = `meetpoint/workspace@sha256:${"ab".repeat(32)}`;
let p: TestPlatform;
let runtime: WorkspaceRuntime;
let templateId = "";
let scene: Awaited<ReturnType<typeof customerWorkspace>>;

beforeAll(async () => {
  p = await testPlatform({
    extraDeps: ({ db, clock, pki }) => {
      runtime = socketRuntime({ db, clock, pki }, SOCKET);
      return { workspaceRuntime: runtime };
    },
  });
  const approver = await secondAdmin(p);
  templateId = await approvedTemplate(p, approver, "Desk", IMAGE);
  scene = await customerWorkspace(p, "Acme", templateId);
});

afterAll(async () => {
  await p?.dispose();
});

test("Start against a Docker endpoint that cannot be reached: failed run, message on the page and in the audit log", async () => {
  await scene.technician.get(`/workspaces/${scene.workspaceId}`);
  const started = await scene.technician.post(`/workspaces/${scene.workspaceId}/start`);
  expect(started.status).toBe(303);
  const run = await runtime.latestRun(scene.workspaceId);
  expect(run).not.toBeNull();
  await runtime.settled(run?.id ?? "");
  const failed = await runtime.latestRun(scene.workspaceId);
  expect(failed?.state).toBe("failed");
  expect(failed?.message).toContain(`unix://${SOCKET} cannot be reached (ENOENT)`);
  expect(failed?.reportTokenHash).toBeNull();
  const page = await (await scene.technician.get(`/workspaces/${scene.workspaceId}`)).text();
  expect(page).toContain("start failed");
  expect(page).toContain("cannot be reached");
  // A failed start does not block the next one: Start is offered again.
  expect(page).toContain(`/workspaces/${scene.workspaceId}/start`);
  const entry = await p.lastAudit("workspace.start");
  expect(entry?.result).toBe("failed");
  expect(entry?.actorName).toBe("tech-acme");
  expect(String((entry?.detail as { message?: string } | undefined)?.message)).toContain(
    "cannot be reached",
  );
});

test("who may start: a technician without a grant gets 404; Stop of a workspace not running is 409", async () => {
  const other = await customerWorkspace(p, "Other", templateId);
  const foreign = await other.technician.post(`/workspaces/${scene.workspaceId}/start`);
  expect(foreign.status).toBe(404);
  await scene.technician.get(`/workspaces/${scene.workspaceId}`);
  const stop = await scene.technician.post(`/workspaces/${scene.workspaceId}/stop`);
  expect(stop.status).toBe(409);
  expect(await stop.text()).toContain("not running");
});

/** A live run with a known report token, as the runtime leaves it when the desktop answered. */
async function liveRun(token: string) {
  await p.database.db
    .update(workspaceRuns)
    .set({ state: "stopped" })
    .where(eq(workspaceRuns.workspaceId, scene.workspaceId));
  const [run] = await p.database.db
    .insert(workspaceRuns)
    .values({
      workspaceId: scene.workspaceId,
      state: "running",
      vpn: "connecting",
      reportTokenHash: createHash("sha256").update(token).digest("hex"),
    })
    .returning();
  return run?.id ?? "";
}

const report = (token: string, body: unknown) =>
  p.app.request("https://localhost/api/workspace/v1/report", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

test("the report endpoint moves the run's VPN state; up and down are audited", async () => {
  const token = `tok-${crypto.randomUUID()}`;
  const runId = await liveRun(token);
  const at = new Date().toISOString();
  expect((await report(token, { vpn: "connecting", at })).status).toBe(204);
  expect((await report(token, { vpn: "up", at })).status).toBe(204);
  let run = (
    await p.database.db.select().from(workspaceRuns).where(eq(workspaceRuns.id, runId))
  )[0];
  expect(run?.vpn).toBe("up");
  const up = await p.lastAudit("workspace.vpn");
  expect(up?.result).toBe("ok");
  expect(up?.detail).toMatchObject({ run: runId, vpn: "up", before: "connecting" });
  const down = await report(token, { vpn: "down", lastError: "openvpn: exit 1: AUTH_FAILED", at });
  expect(down.status).toBe(204);
  run = (await p.database.db.select().from(workspaceRuns).where(eq(workspaceRuns.id, runId)))[0];
  expect(run?.vpn).toBe("down");
  expect(run?.vpnError).toBe("openvpn: exit 1: AUTH_FAILED");
  const entry = await p.lastAudit("workspace.vpn");
  expect(entry?.result).toBe("failed");
  expect(entry?.detail).toMatchObject({ vpn: "down", lastError: "openvpn: exit 1: AUTH_FAILED" });
  // The same state again is not another audit entry.
  const count = async () =>
    (
      await p.database.db
        .select()
        .from(auditEntries)
        .where(and(eq(auditEntries.action, "workspace.vpn")))
    ).length;
  const before = await count();
  expect((await report(token, { vpn: "down", at })).status).toBe(204);
  expect(await count()).toBe(before);
});

test("the report endpoint refuses a wrong or old token (401), a bad body (400 naming the field), a big one (413)", async () => {
  const token = `tok-${crypto.randomUUID()}`;
  const runId = await liveRun(token);
  const at = new Date().toISOString();
  const wrong = await report(`tok-${crypto.randomUUID()}`, { vpn: "up", at });
  expect(wrong.status).toBe(401);
  expect((await report("", { vpn: "up", at })).status).toBe(401);
  const bad = await report(token, { vpn: "sideways", at });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/^vpn:/);
  expect((await report(token, "{not json")).status).toBe(400);
  const big = await report(token, { vpn: "up", at, lastError: "x".repeat(5000) });
  expect(big.status).toBe(413);
  const run = (
    await p.database.db.select().from(workspaceRuns).where(eq(workspaceRuns.id, runId))
  )[0];
  expect(run?.vpn).toBe("connecting");
  // A stopped run's token no longer counts.
  await p.database.db
    .update(workspaceRuns)
    .set({ state: "stopped" })
    .where(eq(workspaceRuns.id, runId));
  expect((await report(token, { vpn: "up", at })).status).toBe(401);
});

test("Start while a run is live is 409, and so is a workspace without a profile", async () => {
  await p.database.db
    .insert(workspaceRuns)
    .values({ workspaceId: scene.workspaceId, state: "starting", startedAt: new Date() });
  await scene.technician.get(`/workspaces/${scene.workspaceId}`);
  const again = await scene.technician.post(`/workspaces/${scene.workspaceId}/start`);
  expect(again.status).toBe(409);
  expect(await again.text()).toContain("already starting or running");
  const bare = await createWorkspace(
    p.adminCtx,
    (await createCustomer(p.adminCtx, { name: "Bare" })).id,
    {
      templateId,
    },
  );
  await expect(runtime.start(p.adminCtx, bare.id)).rejects.toThrow("no remote-access profile");
});

test("a start left by a platform instance that went away is failed by the stop job, audited; delete waits for it", async () => {
  // The live run of the previous test, started by nobody on this instance.
  const [live] = await p.database.db
    .select()
    .from(workspaceRuns)
    .where(eq(workspaceRuns.state, "starting"));
  expect(live?.workspaceId).toBe(scene.workspaceId);
  await scene.technician.get(`/workspaces/${scene.workspaceId}`);
  const page = await (await scene.technician.get(`/workspaces/${scene.workspaceId}/run`)).text();
  expect(page).toContain('hx-trigger="every 1s"');
  await expect(deleteWorkspace(p.adminCtx, scene.workspaceId)).rejects.toThrow("stop it first");
  // Within its time (5 s a replica, 2 replicas + 1): left alone.
  expect((await sweepWorkspaces(runtime, 5000)).abandoned).toEqual([]);
  p.clock.advance((live?.startedAt.getTime() ?? 0) - p.clock.now().getTime() + 16_000);
  expect((await sweepWorkspaces(runtime, 5000)).abandoned).toEqual([scene.workspaceId]);
  const run = await runtime.latestRun(scene.workspaceId);
  expect(run?.state).toBe("failed");
  expect(run?.message).toContain("instance that was starting it stopped");
  expect((await p.lastAudit("workspace.start"))?.result).toBe("failed");
});

test("a changed allow-list stops the running desktop at once, by whoever changed it; the stop job catches the rest", async () => {
  const current = async () => {
    const [w] = await p.database.db
      .select()
      .from(workspaces)
      .where(eq(workspaces.id, scene.workspaceId));
    if (!w) throw new Error("no workspace");
    return settingsVersion(w);
  };
  const runId = await liveRun(`tok-${crypto.randomUUID()}`);
  const [template] = await p.database.db
    .select()
    .from(workspaceTemplates)
    .where(eq(workspaceTemplates.id, templateId));
  // Started with the template and settings in force now.
  await p.database.db
    .update(workspaceRuns)
    .set({
      settingsVersion: await current(),
      templateId,
      templateProposalId: template?.approvedProposalId ?? null,
    })
    .where(eq(workspaceRuns.id, runId));
  // Unchanged settings: the stop job leaves it running, and so does saving them unchanged.
  expect((await sweepWorkspaces(runtime, 5000)).stopped).toEqual([]);
  await p.admin.get(`/workspaces/${scene.workspaceId}`);
  const [before] = await p.database.db
    .select()
    .from(workspaces)
    .where(eq(workspaces.id, scene.workspaceId));
  expect(
    (
      await p.admin.post(`/workspaces/${scene.workspaceId}/allow-list`, {
        allowList: allowListText(before?.allowList ?? []),
      })
    ).status,
  ).toBe(303);
  expect((await runtime.latestRun(scene.workspaceId))?.state).toBe("running");
  const saved = await p.admin.post(`/workspaces/${scene.workspaceId}/allow-list`, {
    allowList: "10.20.30.40 tcp 443",
  });
  expect(saved.status).toBe(303);
  const run = await runtime.latestRun(scene.workspaceId);
  expect(run).toMatchObject({ id: runId, state: "stopped", stopReason: "settings_change" });
  const stop = await p.lastAudit("workspace.stop");
  expect(stop?.actorName).toBe(p.adminCtx.caller.actor.name);
  expect(stop?.detail).toMatchObject({ run: runId, reason: "settings_change" });
  const page = await (await scene.technician.get(`/workspaces/${scene.workspaceId}/run`)).text();
  expect(page).toContain("its profile or allow-list changed");
  // A run that started with older settings (a start under way, another instance): the stop job.
  const older = await liveRun(`tok-${crypto.randomUUID()}`);
  await p.database.db
    .update(workspaceRuns)
    .set({
      settingsVersion: "an older version",
      templateId,
      templateProposalId: template?.approvedProposalId ?? null,
    })
    .where(eq(workspaceRuns.id, older));
  expect((await sweepWorkspaces(runtime, 5000)).stopped).toEqual([
    { workspaceId: scene.workspaceId, reason: "settings_change" },
  ]);
});

// Last: it moves the clock by minutes.
test("a running workspace whose supervisor stopped reporting says so on its page and in the list", async () => {
  const token = `tok-${crypto.randomUUID()}`;
  await liveRun(token);
  expect((await report(token, { vpn: "up", at: new Date().toISOString() })).status).toBe(204);
  const page = async () =>
    (await scene.technician.get(`/workspaces/${scene.workspaceId}/run`)).text();
  const list = async () => (await scene.technician.get("/workspaces")).text();
  expect(await page()).toContain("VPN: <strong>up</strong>");
  expect(await page()).not.toContain("no report since");
  const reportedAt = p.clock.now().toISOString();
  p.clock.advance(89_000);
  expect(await page()).not.toContain("no report since");
  p.clock.advance(2_000);
  expect(await page()).toContain(`no report since ${reportedAt}`);
  expect(await page()).toContain("VPN: <strong>up</strong>");
  expect(await list()).toContain("(no report for a while)");
  // The next report clears it.
  expect((await report(token, { vpn: "up", at: new Date().toISOString() })).status).toBe(204);
  expect(await page()).not.toContain("no report since");
  expect(await list()).not.toContain("(no report for a while)");
});
