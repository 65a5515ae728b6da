// Forty requests at once against the workspace pieces, as an impatient user or an attacker sends
// them: one Start runs, one approval decides, one grant is stored, one VPN transition is audited.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import { auditEntries, workspaceGrants, workspaceRuns } from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import {
  approveProposal,
  grantAccess,
  proposeChange,
  type WorkspaceRuntime,
} from "../src/workspaces/index.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import {
  approvedTemplate,
  customerWorkspace,
  secondAdmin,
  socketRuntime,
} from "./support/workspace-runtime.ts";

const N = 40;
const IMAGE = `meetpoint/workspace@sha256:${"cd".repeat(32)}`;
// A Docker endpoint that accepts and never answers: a start stays live until it is closed.
const SOCKET = join(tmpdir(), `meetpoint-silent-docker-${crypto.randomUUID()}.sock`);
const held: Bun.Socket[] = [];
const silent = Bun.listen({
  unix: SOCKET,
  socket: { open: (s) => void held.push(s), data: () => {} },
});
let p: TestPlatform;
let runtime: WorkspaceRuntime;
let approver: Awaited<ReturnType<typeof secondAdmin>>;
let templateId = "";
let scene: Awaited<ReturnType<typeof customerWorkspace>>;

beforeAll(async () => {
  p = await testPlatform({
    extraDeps: ({ db, clock, pki }) => {
      runtime = socketRuntime({ db, clock, pki }, SOCKET);
      return { workspaceRuntime: runtime };
    },
  });
  approver = await secondAdmin(p);
  templateId = await approvedTemplate(p, approver, "Desk", IMAGE);
  scene = await customerWorkspace(p, "Acme", templateId);
});

afterAll(async () => {
  silent.stop(true);
  for (const s of held) s.end();
  await p?.dispose();
  rmSync(SOCKET, { force: true });
});

const audits = async (action: string, targetId: string) =>
  p.database.db
    .select()
    .from(auditEntries)
    .where(and(eq(auditEntries.action, action), eq(auditEntries.targetId, targetId)));

test(`${N} Starts at once: one run starts, the others are 409, one audit entry`, async () => {
  await scene.technician.get(`/workspaces/${scene.workspaceId}`);
  const answers = await Promise.all(
    Array.from({ length: N }, () =>
      scene.technician.post(`/workspaces/${scene.workspaceId}/start`),
    ),
  );
  const statuses = answers.map((a) => a.status).sort();
  expect(statuses.filter((s) => s === 303)).toHaveLength(1);
  expect(statuses.filter((s) => s === 409)).toHaveLength(N - 1);
  const runs = await p.database.db
    .select()
    .from(workspaceRuns)
    .where(eq(workspaceRuns.workspaceId, scene.workspaceId));
  expect(runs).toHaveLength(1);
  expect(runs[0]?.state).not.toBe("failed");
  // The endpoint is let go: the live start fails, and the workspace can start again.
  silent.stop(true);
  for (const s of held.splice(0)) s.end();
  await runtime.settled(runs[0]?.id ?? "");
  expect((await runtime.latestRun(scene.workspaceId))?.state).toBe("failed");
  const starts = await audits("workspace.start", scene.workspaceId);
  expect(starts.map((e) => e.result)).toEqual(["failed"]);
});

test(`${N} approvals of one proposal at once: one decides, ${N - 1} are told it was decided`, async () => {
  const proposal = await proposeChange(p.adminCtx, templateId, {
    image: IMAGE,
    cpu: "1",
    memoryMib: "2048",
    pidsLimit: "256",
    idleTimeoutMinutes: "30",
    replicas: "2",
  });
  const outcomes = await Promise.allSettled(
    Array.from({ length: N }, () => approveProposal(approver, proposal.id)),
  );
  expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
  for (const o of outcomes.filter((o) => o.status === "rejected"))
    expect(String((o as PromiseRejectedResult).reason?.message)).toMatch(/decided|meanwhile/i);
  const approvals = (await audits("workspace_template.approve", templateId)).filter(
    (e) => (e.detail as { proposal?: string }).proposal === proposal.id && e.result === "ok",
  );
  expect(approvals).toHaveLength(1);
});

test(`${N} grants of one technician at once: one grant, the others 409, one audit entry`, async () => {
  const u = await createUser(p.adminCtx, { username: "tech-late", displayName: "Late" });
  await grantRole(p.adminCtx, u.user.id, { role: "technician", customerId: scene.customerId });
  const outcomes = await Promise.allSettled(
    Array.from({ length: N }, () =>
      grantAccess(p.adminCtx, scene.workspaceId, { userId: u.user.id }),
    ),
  );
  expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
  for (const o of outcomes.filter((o) => o.status === "rejected"))
    expect((o as PromiseRejectedResult).reason?.status ?? 409).toBe(409);
  const grants = await p.database.db
    .select()
    .from(workspaceGrants)
    .where(eq(workspaceGrants.userId, u.user.id));
  expect(grants).toHaveLength(1);
  const entries = (await audits("workspace.grant", scene.workspaceId)).filter(
    (e) => (e.detail as { technicianId?: string }).technicianId === u.user.id,
  );
  expect(entries).toHaveLength(1);
});

test(`${N} reports of the same VPN change at once: all accepted, the change audited once`, async () => {
  await p.database.db
    .update(workspaceRuns)
    .set({ state: "stopped" })
    .where(eq(workspaceRuns.workspaceId, scene.workspaceId));
  const token = `tok-${crypto.randomUUID()}`;
  const [run] = await p.database.db
    .insert(workspaceRuns)
    .values({
      workspaceId: scene.workspaceId,
      state: "running",
      vpn: "connecting",
      reportTokenHash: createHash("sha256").update(token).digest("hex"),
    })
    .returning();
  const before = (await audits("workspace.vpn", scene.workspaceId)).length;
  const answers = await Promise.all(
    Array.from({ length: N }, () =>
      p.app.request("https://localhost/api/workspace/v1/report", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ vpn: "up", at: new Date().toISOString() }),
      }),
    ),
  );
  expect(answers.map((a) => a.status)).toEqual(Array(N).fill(204));
  const entries = (await audits("workspace.vpn", scene.workspaceId)).slice(before);
  expect(entries).toHaveLength(1);
  expect(entries[0]?.detail).toMatchObject({ run: run?.id, vpn: "up", before: "connecting" });
});
