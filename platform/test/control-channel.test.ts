// The gateway's control channel: heartbeats recorded and answered with what the gateway must know,
// commands delivered by long-poll as signed envelopes, and the operator-only re-arm enforced.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type HeartbeatResponse, verifyEnvelope } from "@meetpoint/common";
import { desc, eq } from "drizzle-orm";
import { auditEntries, gateways } from "../src/db/index.ts";
import { arrangeMachine, type Scene } from "./support/arrange.ts";
import { dataChannelProfile, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

let p: TestPlatform;
let scene: Scene;
let auth: string;
let connection = 0;

const api = (
  path: string,
  init: { method?: string; body?: unknown; auth?: string; signal?: AbortSignal } = {},
) =>
  p.app.request(`https://localhost/api/gateway/v1${path}`, {
    method: init.method ?? "POST",
    signal: init.signal,
    headers: { authorization: init.auth ?? auth, "content-type": "application/json" },
    body:
      init.method === "GET"
        ? undefined
        : typeof init.body === "string"
          ? init.body
          : JSON.stringify(init.body ?? {}),
  });

const report = (overrides: Record<string, unknown> = {}) => ({
  state: "online",
  gatewaySessionId: null,
  agentVersion: "0.1.0",
  openvpnVersion: "2.6.14",
  localTime: new Date(p.clock.now().getTime() + 1500).toISOString(),
  lastError: null,
  ...overrides,
});

async function beat(overrides: Record<string, unknown> = {}): Promise<HeartbeatResponse> {
  const response = await api("/heartbeat", { body: report(overrides) });
  expect(response.status).toBe(200);
  return (await response.json()) as HeartbeatResponse;
}

/** The operator's Connect (or the agent's reconnect), up to the platform's OK for its tunnel. */
async function arm(reconnectOf: string | null = null): Promise<string> {
  p.clock.advance(1000);

  const response = await api("/data-channel", { body: { reconnectOf } });
  expect(response.status).toBe(200);
  const { envelope, gatewaySessionId } = (await response.json()) as {
    envelope: string;
    gatewaySessionId: string;
  };
  const profile = await dataChannelProfile(p, scene.gatewayId, envelope);
  expect((await p.access.connections.decide(`0:${++connection}`, serialOf(profile))).allow).toBe(
    true,
  );
  return gatewaySessionId;
}

/** The newest audit entry of `action`. */
async function lastAudit(action: string) {
  const [entry] = await p.database.db
    .select()
    .from(auditEntries)
    .where(eq(auditEntries.action, action))
    .orderBy(desc(auditEntries.seq))
    .limit(1);
  return entry;
}

async function verifiedCommands(body: { commands: string[] }) {
  const out = [];
  for (const token of body.commands) {
    const verified = await verifyEnvelope(token, {
      kind: "command",
      key: p.pki.signingJwk,
      audience: scene.gatewayId,
      lastVersion: 0,
      now: p.clock.now(),
    });
    if (!verified.ok) throw new Error(verified.reason);
    out.push(verified.claims.body);
  }
  return out;
}

beforeAll(async () => {
  p = await testPlatform();
  scene = await arrangeMachine(p, [
    { name: "Web UI", protocol: "tcp", port: 443, enabled: true },
    { name: "SSH", protocol: "tcp", port: 22, enabled: false },
  ]);
  auth = `Bearer ${scene.gatewayId}.${scene.gatewaySecret}`;
}, 60_000);
afterAll(() => p.dispose());

test("a heartbeat is recorded with versions and clock offset, and shown on the gateway page", async () => {
  const answer = await beat({ state: "idle", lastError: "platform unreachable before" });
  expect(answer).toEqual({
    serverTime: p.clock.now().toISOString(),
    dataChannel: null,
    remoteSessions: [],
    maintenanceSessions: [],
    settings: null,
  });
  const [row] = await p.database.db.select().from(gateways).where(eq(gateways.id, scene.gatewayId));
  expect(row?.lastSeenAt?.getTime()).toBe(p.clock.now().getTime());
  expect(row?.agent).toMatchObject({
    state: "idle",
    openvpnVersion: "2.6.14",
    clockOffsetMs: 1500,
  });
  const page = await p.admin.page(`/gateways/${scene.gatewayId}`);
  // Where the gateway stands, in words, since when, and who must act.
  expect(page).toContain('data-reach="idle"');
  expect(page).toContain("The operator at the machine must press Connect on the gateway");
  expect(page).toContain("agent 0.1.0, OpenVPN 2.6.14");
  expect(page).toContain("+1.5 s against the platform");
  expect(page).toContain("platform unreachable before");
});

test("a heartbeat claiming a data channel the platform does not have is shown as the agent's claim only", async () => {
  // Regression: state "online" with a made-up gatewaySessionId made the page say "State online".
  const answer = await beat({ state: "online", gatewaySessionId: crypto.randomUUID() });
  expect(answer.dataChannel).toBeNull();
  expect(await p.access.dataChannels.open(scene.gatewayId)).toBeNull();
  const page = await p.admin.page(`/gateways/${scene.gatewayId}`);
  expect(page).toContain("no OpenVPN connection of this gateway at the platform");
  expect(page).toContain("State (reported)");
  expect(page).toContain(
    "the agent says so, but the platform has no online data channel of this gateway",
  );
  expect(page).not.toMatch(/<dt>State<\/dt>/);
  const entry = await lastAudit("gateway.report");
  expect(entry?.detail).toMatchObject({ state: "online", dataChannel: null });
  await beat({ state: "idle" });
});

test("malformed heartbeats are refused with the field that is wrong", async () => {
  const cases: [unknown, string][] = [
    ["{not json", "the body must be JSON"],
    [report({ state: "hacked" }), "state:"],
    [report({ localTime: "yesterday" }), "localTime: must be an ISO 8601 time"],
    [{ ...report(), shell: "rm -rf" }, "unexpected field(s) shell"],
  ];
  for (const [body, message] of cases) {
    const response = await api("/heartbeat", { body });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain(
      message,
    );
  }
  expect((await api("/heartbeat", { body: report(), auth: "Bearer x.y" })).status).toBe(401);
});

test("a technician's request wakes the gateway's long-poll; the heartbeat says who, why and what", async () => {
  const channel = await arm();
  expect((await beat({ gatewaySessionId: channel })).dataChannel).toMatchObject({
    gatewaySessionId: channel,
    state: "online",
    operatorMustReconnect: false,
  });
  // With the platform's own channel online, the page says so, and the claim agrees with it.
  const page = await p.admin.page(`/gateways/${scene.gatewayId}`);
  expect(page).toContain('<span class="badge ok">online</span>');
  expect(page).toContain("OpenVPN connection)");
  expect(page).not.toContain("the agent says so, but");
  const first = (await (await api("/commands?cursor=0&wait=0", { method: "GET" })).json()) as {
    cursor: number;
  };
  const started = Date.now();
  const poll = api(`/commands?cursor=${first.cursor}&wait=10`, { method: "GET" });
  await p.access.remoteSessions.request(scene.technician, scene.machineId, {
    reason: "ticket 4711",
  });
  const delivered = (await (await poll).json()) as { cursor: number; commands: string[] };
  expect(Date.now() - started).toBeLessThan(2000);
  expect(await verifiedCommands(delivered)).toEqual([
    { command: "refresh", reason: "remote session requested", gatewaySessionId: channel },
  ]);
  const { remoteSessions } = await beat({ gatewaySessionId: channel });
  expect(remoteSessions).toEqual([
    expect.objectContaining({
      state: "requested",
      technician: "Tech",
      reason: "ticket 4711",
      machine: "Press",
      lanAddress: "192.168.0.10",
      services: [{ name: "Web UI", protocol: "tcp", port: 443 }],
    }),
  ]);
});

test("a technician's disconnect sends a signed disconnect; only the operator may re-arm", async () => {
  const channel = (await beat()).dataChannel?.gatewaySessionId ?? "";
  const [session] = await p.access.remoteSessions.list(scene.technician, { open: true });
  const { cursor } = (await (await api("/commands?wait=0", { method: "GET" })).json()) as {
    cursor: number;
  };
  await p.access.remoteSessions.disconnect(scene.technician, session?.id ?? "");
  const delivered = (await (
    await api(`/commands?cursor=${cursor}&wait=5`, { method: "GET" })
  ).json()) as { commands: string[] };
  expect(await verifiedCommands(delivered)).toContainEqual({
    command: "disconnect",
    reason: "remote session ended by technician",
    gatewaySessionId: channel,
  });
  expect((await beat({ gatewaySessionId: channel })).dataChannel).toMatchObject({
    state: "closed",
    operatorMustReconnect: true,
  });
  const automatic = await api("/data-channel", { body: { reconnectOf: channel } });
  expect(automatic.status).toBe(409);
  expect(await automatic.text()).toContain("only the operator can connect again");
  // The operator's own Connect works.
  await arm();
});

test("after a fault (gateway lost) the agent may reconnect by itself", async () => {
  const channel = (await beat()).dataChannel?.gatewaySessionId ?? "";
  await p.access.connections.closed(`0:${connection}`);
  expect((await beat({ gatewaySessionId: channel })).dataChannel).toMatchObject({
    state: "closed",
    closeReason: "gateway_lost",
    operatorMustReconnect: false,
  });
  await arm(channel);
});

test("foreign channels, bad cursors and wrong bodies are refused", async () => {
  const unknown = await api("/data-channel", { body: { reconnectOf: crypto.randomUUID() } });
  expect(unknown.status).toBe(404);
  expect((await api("/data-channel", { body: { reconnectOf: "../etc" } })).status).toBe(400);
  expect((await api("/commands?cursor=-1", { method: "GET" })).status).toBe(400);
  expect((await api("/commands?cursor=abc", { method: "GET" })).status).toBe(400);
});

test("a late Disconnect report for an older channel leaves the newer one open", async () => {
  const older = await arm();
  const newer = await arm();
  const late = await api("/disconnect", { body: { gatewaySessionId: older } });
  expect(await late.json()).toEqual({ closed: false });
  expect((await beat({ gatewaySessionId: newer })).dataChannel).toMatchObject({ state: "online" });
  const current = await api("/disconnect", { body: { gatewaySessionId: newer } });
  expect(await current.json()).toEqual({ closed: true });
});

test("a Connect the gateway gave up waiting for (its timeout) replaces nothing when it lands late", async () => {
  const channel = await arm();
  // The lab's real failure: a request held up while the database was away went on once it was
  // back, and replaced the channel the gateway's next attempt had brought online meanwhile.
  const late = await api("/data-channel", { body: {}, signal: AbortSignal.abort() });
  expect(late.status).toBe(503);
  expect((await late.json()).error.message).toContain("nothing was changed");
  expect((await beat({ gatewaySessionId: channel })).dataChannel).toMatchObject({
    gatewaySessionId: channel,
    state: "online",
  });
  const refusal = await lastAudit("gateway_session.request");
  expect(refusal).toMatchObject({ result: "denied" });
});

test("access cut for a lost database: grants gone at once, ends recorded as database_lost", async () => {
  const channel = await arm();
  const { profile } = await p.access.remoteSessions.request(scene.technician, scene.machineId, {
    reason: "ticket 5000",
  });
  const technicianConnection = `0:${++connection}`;
  expect((await p.access.connections.decide(technicianConnection, serialOf(profile))).allow).toBe(
    true,
  );
  expect(p.dataPlane.grants.size).toBeGreaterThan(0);
  await p.access.watched.cutForLostDatabase();
  expect(p.dataPlane.cuts).toBe(1);
  expect(p.dataPlane.grants.size).toBe(0);
  // The killed technician connection is reported; the database answers again.
  await p.access.connections.closed(technicianConnection);
  const [ended] = await p.access.remoteSessions.list(p.adminCtx, {});
  expect(ended).toMatchObject({ state: "ended", endReason: "database_lost" });
  // Until the cut is recorded nothing new is granted (the recording would end it at once): the
  // gateway's reconnect and a technician's Connect are told to try again, and connections refused.
  const retry = await api("/data-channel", { body: { reconnectOf: channel } });
  expect(retry.status).toBe(503);
  expect((await retry.json()).error.message).toContain("Try again in a few seconds");
  await expect(
    p.access.remoteSessions.request(scene.technician, scene.machineId, { reason: "ticket 5001" }),
  ).rejects.toThrow("lost its database");
  expect((await p.access.connections.decide(`0:${++connection}`, "01")).allow).toBe(false);
  await p.access.watched.recordDatabaseCut();
  expect((await beat({ gatewaySessionId: channel })).dataChannel).toMatchObject({
    state: "closed",
    closeReason: "database_lost",
    operatorMustReconnect: false,
  });
});
