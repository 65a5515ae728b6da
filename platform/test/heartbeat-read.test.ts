// The heartbeat's one read (sessions/heartbeat-read.ts): an idle heartbeat costs one database
// statement (two when its report is written), and nothing it reads is kept between heartbeats — a
// change made through the normal path (a new secret, new settings, a window, a channel) is in the
// very next answer. Runs on PGlite and, with DATABASE_URL, on PostgreSQL.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { HeartbeatResponse } from "@meetpoint/common";
import { rekeyGateway } from "../src/masterdata/index.ts";
import { arrangeMachine, type Scene } from "./support/arrange.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

let p: TestPlatform;
let scene: Scene;
let auth: string;

const CAPABILITIES = ["consent-requests", "maintenance-windows", "modbus-read-only"];

const api = (path: string, body: unknown, as = auth) =>
  p.app.request(`https://localhost/api/gateway/v1${path}`, {
    method: "POST",
    headers: { authorization: as, "content-type": "application/json" },
    body: JSON.stringify(body),
  });

const report = (overrides: Record<string, unknown> = {}) => ({
  state: "idle",
  gatewaySessionId: null,
  agentVersion: "0.1.0",
  openvpnVersion: "2.6.14",
  localTime: p.clock.now().toISOString(),
  lastError: null,
  capabilities: CAPABILITIES,
  ...overrides,
});

async function beat(overrides: Record<string, unknown> = {}): Promise<HeartbeatResponse> {
  const response = await api("/heartbeat", report(overrides));
  expect(response.status).toBe(200);
  return (await response.json()) as HeartbeatResponse;
}

/**
 * The statements the database driver is asked to run while `work` runs: postgres.js' `unsafe`
 * (drizzle sends every query through it) or PGlite's `query`, counted at the client itself.
 */
async function statementsDuring(work: () => Promise<unknown>): Promise<string[]> {
  const client = (p.database.db as unknown as { $client: Record<string, unknown> }).$client;
  const method = p.database.driver === "postgres" ? "unsafe" : "query";
  const original = client[method] as (...args: unknown[]) => unknown;
  const seen: string[] = [];
  client[method] = function (this: unknown, ...args: unknown[]) {
    seen.push(String(args[0]));
    return original.apply(this, args);
  };
  try {
    await work();
  } finally {
    client[method] = original;
  }
  return seen;
}

beforeAll(async () => {
  p = await testPlatform();
  scene = await arrangeMachine(p, [{ name: "Web UI", protocol: "tcp", port: 443, enabled: true }]);
  auth = `Bearer ${scene.gatewayId}.${scene.gatewaySecret}`;
}, 60_000);
afterAll(() => p.dispose());

test("an idle heartbeat is one statement; its report is written at most once per 20 s", async () => {
  await beat(); // first contact: recorded (and audited)
  p.clock.advance(5_000);
  const idle = await statementsDuring(() => beat());
  expect(idle).toHaveLength(1);
  expect(idle[0]).toContain("gateway_sessions");
  p.clock.advance(20_000);
  const refresh = await statementsDuring(() => beat());
  expect(refresh).toHaveLength(2);
  expect(refresh[1]?.toLowerCase()).toStartWith("update");
});

test("a new secret is refused at the very next heartbeat", async () => {
  const secret = await rekeyGateway(p.adminCtx, scene.gatewayId);
  expect((await api("/heartbeat", report())).status).toBe(401);
  auth = `Bearer ${scene.gatewayId}.${secret}`;
  expect((await api("/heartbeat", report())).status).toBe(200);
});

test("settings a platform admin changes are in the next heartbeat's answer", async () => {
  expect((await beat()).settings).toBeNull();
  const base = `/gateways/${scene.gatewayId}/settings`;
  expect((await p.admin.post(base, { sshEnabled: "on", uiReach: "lan" })).status).toBe(303);
  const first = (await beat()).settings;
  expect(first).toBeString();
  expect((await p.admin.post(base, { sshEnabled: "off", uiReach: "lan" })).status).toBe(303);
  const second = (await beat()).settings;
  expect(second).toBeString();
  expect(second).not.toBe(first);
});

test("a window the operator creates is in the next heartbeat; a cancelled one is gone", async () => {
  expect((await beat()).maintenanceWindows).toEqual([]);
  const start = new Date(p.clock.now().getTime() + 3_600_000);
  const created = await api("/windows", {
    start: start.toISOString(),
    end: new Date(start.getTime() + 3_600_000).toISOString(),
    reason: "press maintenance",
  });
  expect(created.status).toBe(201);
  const { id } = (await created.json()) as { id: string };
  expect((await beat()).maintenanceWindows).toEqual([
    expect.objectContaining({ id, start: start.toISOString(), reason: "press maintenance" }),
  ]);
  const cancelled = await api(`/windows/${id}/cancel`, {});
  expect(cancelled.status).toBe(200);
  expect((await beat()).maintenanceWindows).toEqual([]);
});

test("the newest channel and an older one asked for by id are both answered as stored", async () => {
  const connect = async () => {
    p.clock.advance(1000);
    const response = await api("/data-channel", {});
    expect(response.status).toBe(200);
    return ((await response.json()) as { gatewaySessionId: string }).gatewaySessionId;
  };
  const older = await connect();
  const newer = await connect();
  expect((await beat()).dataChannel?.gatewaySessionId).toBe(newer);
  expect((await beat({ gatewaySessionId: newer })).dataChannel?.gatewaySessionId).toBe(newer);
  expect((await beat({ gatewaySessionId: older })).dataChannel).toMatchObject({
    gatewaySessionId: older,
    state: "closed",
  });
  expect((await beat({ gatewaySessionId: crypto.randomUUID() })).dataChannel).toBeNull();
});
