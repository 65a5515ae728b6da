// The gateway's side of consent, on a recording data plane with a manual clock: under
// operator_approval the operator at the machine allows or denies each request through the gateway
// API (its UI or local API); under two_party both the operator and a customer approver must, and
// the clock starts at the second approval. Pending requests reach only agents that show them;
// bad input: another gateway's request (404), twice (idempotent), expired (409), a policy where the
// gateway does not decide (409), and the portal cannot approve under operator_approval (409).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { auditEntries, gatewaySessions, remoteSessions } from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import {
  createCustomer,
  createGateway,
  createMachine,
  createService,
  createSite,
} from "../src/masterdata/index.ts";
import { transparencyReport } from "../src/reports/index.ts";
import { dataChannelProfile, gatewayCall, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { type Browser, firstSignIn } from "./support/portal.ts";

type Place = { siteId: string; gatewayId: string; secret: string; machineId: string };
let p: TestPlatform;
let plant: Place;
let other: Place;
let tech: Browser;
let custAdmin: Browser;
let connection = 0;

function gatewayApi(gateway: Place, path: string, body: unknown) {
  return gatewayCall(p, gateway, path, body);
}

async function arm(gateway: Place): Promise<void> {
  const response = await gatewayApi(gateway, "/data-channel", {});
  const { envelope } = (await response.json()) as { envelope: string };
  const profile = await dataChannelProfile(p, gateway.gatewayId, envelope);
  expect((await p.access.connections.decide(`0:${++connection}`, serialOf(profile))).allow).toBe(
    true,
  );
}

/** The heartbeat answer, as an agent with (or without) the consent screen gets it. */
async function heartbeat(gateway: Place, capabilities: string[] = ["consent-requests"]) {
  const [channel] = await p.database.db
    .select()
    .from(gatewaySessions)
    .where(eq(gatewaySessions.gatewayId, gateway.gatewayId));
  const response = await gatewayApi(gateway, "/heartbeat", {
    state: "online",
    gatewaySessionId: channel?.id ?? null,
    agentVersion: "0.1.0",
    openvpnVersion: "2.6.12",
    localTime: p.clock.now().toISOString(),
    lastError: null,
    capabilities,
  });
  expect(response.status).toBe(200);
  return (await response.json()) as {
    remoteSessions: { id: string }[];
    pendingRequests?: { id: string; operatorApproved: boolean; decideBy: string }[];
  };
}

const decide = (gateway: Place, id: string, decision: "allow" | "deny", where = "gateway UI") =>
  gatewayApi(gateway, `/requests/${id}/decision`, { decision, where });

async function setPolicy(policy: string) {
  await custAdmin.get(`/sites/${plant.siteId}`);
  const saved = await custAdmin.post(`/sites/${plant.siteId}/consent`, {
    consentPolicy: policy,
    maxSessionMinutes: "60",
    requestExpiryMinutes: "10",
  });
  expect(saved.status).toBe(303);
}

async function ask(): Promise<string> {
  await tech.get(`/machines/${plant.machineId}`);
  const response = await tech.post(`/machines/${plant.machineId}/connect`, {
    reason: "axis 3 fault",
    ticket: "T-9",
    minutes: "30",
  });
  const location = response.headers.get("location") ?? "";
  if (!location.startsWith("/requests/"))
    throw new Error(`Connect answered ${response.status} → ${location}`);
  return location.slice("/requests/".length);
}

async function session(id: string) {
  const [row] = await p.database.db.select().from(remoteSessions).where(eq(remoteSessions.id, id));
  if (!row) throw new Error(`no session ${id}`);
  return row;
}

async function audited(action: string, id: string) {
  const rows = await p.database.db
    .select()
    .from(auditEntries)
    .where(eq(auditEntries.action, action));
  return rows.filter((r) => (r.detail as { remoteSessionId?: string }).remoteSessionId === id);
}

async function place(siteId: string, name: string): Promise<Place> {
  const { gateway, secret } = await createGateway(p.adminCtx, p.proxyPool, siteId, { name });
  const machine = await createMachine(p.adminCtx, p.proxyPool, gateway.id, {
    name: `${name} press`,
    lanAddress: "192.168.0.10",
  });
  await createService(p.adminCtx, machine.id, {
    name: "Web",
    protocol: "tcp",
    port: 443,
    enabled: true,
  });
  return { siteId, gatewayId: gateway.id, secret, machineId: machine.id };
}

async function signIn(username: string, grant: Parameters<typeof grantRole>[2]) {
  const u = await createUser(p.adminCtx, { username, displayName: username.toUpperCase() });
  await grantRole(p.adminCtx, u.user.id, grant);
  return (await firstSignIn(p.app, p.database.db, p.clock, username, u.password)).browser;
}

beforeAll(async () => {
  p = await testPlatform();
  const customer = await createCustomer(p.adminCtx, { name: "ACME" });
  plant = await place((await createSite(p.adminCtx, customer.id, { name: "Plant" })).id, "Hall 1");
  const foreign = await createCustomer(p.adminCtx, { name: "Other" });
  other = await place((await createSite(p.adminCtx, foreign.id, { name: "Elsewhere" })).id, "X");
  tech = await signIn("tech", { role: "technician", customerId: customer.id });
  custAdmin = await signIn("custadmin", { role: "customer_admin", customerId: customer.id });
  await arm(plant);
  await arm(other);
}, 120_000);
afterAll(() => p.dispose());

describe("operator_approval: the operator at the machine decides", () => {
  test("the request reaches the gateway (oldest first), not an older agent; Allow from the gateway UI grants it, audited as the gateway's", async () => {
    await setPolicy("operator_approval");
    const first = await ask();
    p.clock.advance(1000);
    const second = await ask();
    const answer = await heartbeat(plant);
    expect(answer.pendingRequests?.map((r) => r.id)).toEqual([first, second]);
    expect(answer.remoteSessions).toEqual([]);
    expect((await heartbeat(plant, [])).pendingRequests).toBeUndefined();
    expect((await heartbeat(other)).pendingRequests).toEqual([]);

    // The portal shows it with Deny only, and cannot approve it (409 with the reason).
    const sessions = await custAdmin.page("/sessions");
    expect(sessions).toContain(`/requests/${first}/deny`);
    expect(sessions).not.toContain(`/requests/${first}/approve`);
    expect(await tech.page(`/requests/${first}/status`)).toContain(
      "The operator at the machine decides, on the gateway.",
    );
    const portal = await custAdmin.post(`/requests/${first}/approve`);
    expect(portal.status).toBe(409);
    expect(await portal.text()).toContain("operator at the machine");

    p.clock.advance(60_000);
    const at = p.clock.now();
    const allowed = await decide(plant, first, "allow");
    expect(allowed.status).toBe(200);
    expect(((await allowed.json()) as { outcome: string }).outcome).toBe("granted");
    const row = await session(first);
    expect(row.state).toBe("requested");
    expect(row.endsAt).toEqual(new Date(at.getTime() + 30 * 60_000));
    const [entry] = await audited("remote_session.approve", first);
    expect(entry?.actorName).toBe("operator at gateway Hall 1 (gateway UI)");
    expect(entry?.detail).toMatchObject({ where: "gateway UI", party: "gateway", granted: true });
    expect((await heartbeat(plant)).remoteSessions.map((s) => s.id)).toEqual([first]);

    // Twice: idempotent.
    const again = await decide(plant, first, "allow", "local API");
    expect(((await again.json()) as { outcome: string }).outcome).toBe("already_approved");
    expect(await audited("remote_session.approve", first)).toHaveLength(1);

    // Deny through the local API: ended, audited with where; the second can no longer be allowed.
    const denied = await decide(plant, second, "deny", "local API");
    expect(((await denied.json()) as { outcome: string }).outcome).toBe("denied");
    expect(await session(second)).toMatchObject({ state: "ended", endReason: "denied" });
    const [denial] = await audited("remote_session.deny", second);
    expect(denial?.detail).toMatchObject({ where: "local API" });
    expect(
      ((await (await decide(plant, second, "deny")).json()) as { outcome: string }).outcome,
    ).toBe("already_denied");
    const late = await decide(plant, second, "allow");
    expect(late.status).toBe(409);
    expect(await late.text()).toContain("denied");
  });

  test("bad input: another gateway's request is 404, an expired one 409, a malformed decision 400", async () => {
    const id = await ask();
    expect((await decide(other, id, "allow")).status).toBe(404);
    expect((await decide(plant, "not-a-uuid", "allow")).status).toBe(404);
    expect(
      (await gatewayApi(plant, `/requests/${id}/decision`, { decision: "maybe" })).status,
    ).toBe(400);
    expect(
      (await gatewayApi(plant, `/requests/${id}/decision`, { decision: "allow", where: "portal" }))
        .status,
    ).toBe(400);
    p.clock.advance(10 * 60_000 + 1);
    expect((await heartbeat(plant)).pendingRequests?.map((r) => r.id)).not.toContain(id);
    const expired = await decide(plant, id, "allow");
    expect(expired.status).toBe(409);
    expect(await expired.text()).toContain("expired");
    expect(await session(id)).toMatchObject({ state: "ended", endReason: "request_expired" });
    expect((await decide(plant, id, "deny")).status).toBe(409);
  });

  test("a gateway whose site decides in the portal, or needs no approval, cannot approve (409)", async () => {
    await setPolicy("customer_approval");
    const id = await ask();
    expect((await heartbeat(plant)).pendingRequests).toEqual([]);
    const refused = await decide(plant, id, "allow");
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain("customer approver");
    expect((await session(id)).state).toBe("pending");
  });
});

describe("two_party: the operator and a customer approver", () => {
  test("one approval alone grants nothing; the clock starts at the second; the report lists both", async () => {
    await setPolicy("two_party");
    const id = await ask();
    const partly = await decide(plant, id, "allow");
    expect(((await partly.json()) as { outcome: string }).outcome).toBe("approved_partly");
    expect((await session(id)).state).toBe("pending");
    expect((await heartbeat(plant)).pendingRequests).toMatchObject([
      { id, operatorApproved: true },
    ]);
    expect((await heartbeat(plant)).remoteSessions.map((s) => s.id)).not.toContain(id);
    await tech.get(`/requests/${id}`);
    expect((await tech.post(`/requests/${id}/profile`)).status).toBe(409);
    expect(await tech.page(`/requests/${id}/status`)).toContain(
      "Approved so far by operator at gateway Hall 1 (gateway UI).",
    );
    const [first] = await audited("remote_session.approve", id);
    expect(first?.detail).toMatchObject({ granted: false, waitingFor: ["portal"] });

    p.clock.advance(3 * 60_000);
    const second = p.clock.now();
    await custAdmin.get("/sessions");
    const approved = await custAdmin.post(`/requests/${id}/approve`);
    expect(approved.headers.get("location")).toBe("/sessions?decision=approved");
    const row = await session(id);
    expect(row.state).toBe("requested");
    expect(row.approvedAt).toEqual(second);
    expect(row.endsAt).toEqual(new Date(second.getTime() + 30 * 60_000));
    expect((await heartbeat(plant)).remoteSessions.map((s) => s.id)).toContain(id);

    // The portal first, then the gateway: the same, the gateway's approval grants.
    const next = await ask();
    await custAdmin.get("/sessions");
    expect((await custAdmin.post(`/requests/${next}/approve`)).headers.get("location")).toBe(
      "/sessions?decision=approved_partly",
    );
    expect((await session(next)).state).toBe("pending");
    expect(
      ((await (await decide(plant, next, "allow")).json()) as { outcome: string }).outcome,
    ).toBe("granted");

    // Both parties at the same moment: each sees the other's approval, the request is granted once.
    const both = await ask();
    await custAdmin.get("/sessions");
    const [atGateway, inPortal] = await Promise.all([
      decide(plant, both, "allow"),
      custAdmin.post(`/requests/${both}/approve`),
    ]);
    const outcomes = [
      ((await atGateway.json()) as { outcome: string }).outcome,
      inPortal.headers.get("location"),
    ];
    expect(
      outcomes.filter((o) => o === "granted" || o === "/sessions?decision=approved"),
    ).toHaveLength(1);
    expect((await session(both)).state).toBe("requested");
    const grants = await audited("remote_session.approve", both);
    expect(grants.map((g) => (g.detail as { granted: boolean }).granted).sort()).toEqual([
      false,
      true,
    ]);

    await p.access.ends.endRemoteSession(id, "admin", { id: null, name: "test", ip: null });
    const [view] = await p.access.remoteSessions.list(p.adminCtx, { id });
    if (!view) throw new Error("no session view");
    const report = await transparencyReport({ db: p.database.db, clock: p.clock }, view);
    expect(report.consent.policy).toBe("two-party");
    expect(report.consent.approvals.map((a) => a.where)).toEqual(["gateway UI", "portal"]);
    expect(report.consent.approvals[0]?.by).toBe("operator at gateway Hall 1");
    expect(report.consent.approvals[1]?.by).toBe("CUSTADMIN");
  });
});
