// Read-only Modbus/TCP on the platform: a service marked so (portal, audited, bad input refused),
// sent with its mode only to agents that filter (older agents never get it, and never a field they
// would refuse), the filter's counts per session recorded, shown, and audited at and after the end.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type HeartbeatResponse, heartbeatResponseSchema } from "@meetpoint/common";
import { eq } from "drizzle-orm";
import { z } from "zod";
import { remoteSessions, services } from "../src/db/index.ts";
import { createGateway, createMachine, setServiceMode } from "../src/masterdata/index.ts";
import { arrangeMachine, type Scene } from "./support/arrange.ts";
import { dataChannelProfile, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

let p: TestPlatform;
let scene: Scene;
let auth: string;

const api = (path: string, body: unknown) =>
  p.app.request(`https://localhost/api/gateway/v1${path}`, {
    method: "POST",
    headers: { authorization: auth, "content-type": "application/json" },
    body: JSON.stringify(body),
  });

const report = (overrides: Record<string, unknown> = {}) => ({
  state: "online",
  gatewaySessionId: null,
  agentVersion: "0.1.0",
  openvpnVersion: "2.6.14",
  localTime: p.clock.now().toISOString(),
  lastError: null,
  ...overrides,
});

async function beat(overrides: Record<string, unknown> = {}): Promise<HeartbeatResponse> {
  const response = await api("/heartbeat", report(overrides));
  expect(response.status).toBe(200);
  return (await response.json()) as HeartbeatResponse;
}

beforeAll(async () => {
  p = await testPlatform();
  scene = await arrangeMachine(p, [
    { name: "Web UI", protocol: "tcp", port: 443, enabled: true },
    { name: "Syslog", protocol: "udp", port: 514, enabled: false },
  ]);
  auth = `Bearer ${scene.gatewayId}.${scene.gatewaySecret}`;
}, 60_000);
afterAll(() => p.dispose());

describe("marking a service read-only", () => {
  test("in the portal: created read-only, shown, switched, audited with before and after", async () => {
    const admin = p.admin;
    await admin.get(`/machines/${scene.machineId}`);
    const created = await admin.post(`/machines/${scene.machineId}/services`, {
      name: "PLC",
      protocol: "tcp",
      port: "502",
      mode: "modbus-read-only",
      enabled: "on",
    });
    expect(created.status).toBe(303);
    const page = await admin.page(`/machines/${scene.machineId}`);
    expect(page).toContain('data-service-mode="true">Modbus/TCP read-only</span>');
    expect(page).toContain("Allow full access");
    const [plc] = await p.database.db.select().from(services).where(eq(services.name, "PLC"));
    expect(plc?.mode).toBe("modbus-read-only");
    expect((await p.lastAudit("service.create"))?.detail).toMatchObject({
      mode: "modbus-read-only",
    });

    const web = (await p.database.db.select().from(services).where(eq(services.port, 443)))[0];
    const switched = await admin.post(
      `/services/${web?.id}/mode`,
      { mode: "modbus-read-only" },
      { "hx-request": "true" },
    );
    expect(switched.status).toBe(200);
    expect(await switched.text()).toContain("Modbus/TCP read-only");
    expect((await p.lastAudit("service.update"))?.detail).toMatchObject({
      from: { mode: "full" },
      to: { mode: "modbus-read-only" },
    });
    await setServiceMode(p.adminCtx, web?.id ?? "", "full");
    // Enabling or disabling keeps the mode.
    await admin.post(`/services/${plc?.id}/enabled`, { enabled: "true" });
    const [again] = await p.database.db.select().from(services).where(eq(services.name, "PLC"));
    expect(again?.mode).toBe("modbus-read-only");
  });

  test("bad input is refused with 400 naming the mode", async () => {
    const [syslog] = await p.database.db.select().from(services).where(eq(services.port, 514));
    const cases: [string, string][] = [
      ["readonly", "must be full or modbus-read-only"],
      ["", "must be full or modbus-read-only"],
    ];
    for (const [mode, reason] of cases) {
      const [plc] = await p.database.db.select().from(services).where(eq(services.name, "PLC"));
      const response = await p.admin.post(`/services/${plc?.id}/mode`, { mode });
      expect(response.status).toBe(400);
      expect(await response.text()).toContain(reason);
    }
    await expect(setServiceMode(p.adminCtx, syslog?.id ?? "", "modbus-read-only")).rejects.toThrow(
      "mode: read-only Modbus is Modbus/TCP: the protocol must be tcp",
    );
    // A workstation is reached without a gateway agent: nothing could filter.
    const { gateway } = await createGateway(p.adminCtx, p.proxyPool, (await siteId()) ?? "", {
      name: "Control PC",
      kind: "workstation",
    });
    const response = await p.admin.post(
      `/machines/${await workstationMachine(gateway.id)}/services`,
      {
        name: "Modbus",
        protocol: "tcp",
        port: "502",
        mode: "modbus-read-only",
      },
    );
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("a workstation has no gateway agent to filter Modbus");
  });
});

async function siteId() {
  const { gateways } = await import("../src/db/index.ts");
  const [row] = await p.database.db
    .select({ siteId: gateways.siteId })
    .from(gateways)
    .where(eq(gateways.id, scene.gatewayId));
  return row?.siteId;
}

async function workstationMachine(gatewayId: string): Promise<string> {
  const { machines } = await import("../src/db/index.ts");
  const [row] = await p.database.db
    .select({ id: machines.id })
    .from(machines)
    .where(eq(machines.gatewayId, gatewayId));
  if (row) return row.id;
  return (await createMachine(p.adminCtx, p.proxyPool, gatewayId, { name: "PC" })).id;
}

/** The heartbeat answer's shape as the first agents parse it: strict, no mode, no technician address. */
const oldServiceSchema = z
  .object({ name: z.string(), protocol: z.enum(["tcp", "udp"]), port: z.number() })
  .strict();
const oldSessionSchema = z
  .object({
    ...Object.fromEntries(
      [
        "id",
        "state",
        "technician",
        "reason",
        "machine",
        "proxyAddress",
        "lanAddress",
        "since",
        "until",
      ].map((key) => [key, z.unknown()]),
    ),
    services: z.array(oldServiceSchema),
  })
  .strict();
const oldAnswerSchema = z.object({ remoteSessions: z.array(oldSessionSchema) }).passthrough();

describe("the gateway learns the mode, the platform the filter's counts", () => {
  let channel = "";
  let session = "";

  test("an agent that filters gets the mode and the technician's address; an older one no read-only service", async () => {
    const response = await api("/data-channel", { reconnectOf: null });
    const { envelope, gatewaySessionId } = (await response.json()) as {
      envelope: string;
      gatewaySessionId: string;
    };
    const profile = await dataChannelProfile(p, scene.gatewayId, envelope);
    expect((await p.access.connections.decide("0:1", serialOf(profile))).allow).toBe(true);
    channel = gatewaySessionId;
    const requested = await p.access.remoteSessions.request(scene.technician, scene.machineId, {
      reason: "ticket 18",
    });
    session = requested.session.id;

    const filtering = await beat({ gatewaySessionId: channel, capabilities: ["modbus-read-only"] });
    const [mine] = filtering.remoteSessions;
    expect(mine?.services).toEqual([
      { name: "Web UI", protocol: "tcp", port: 443, mode: "full" },
      { name: "PLC", protocol: "tcp", port: 502, mode: "modbus-read-only" },
    ]);
    expect(mine?.technicianAddress).toMatch(/^100\.\d+\.\d+\.\d+$/);

    // Fail closed for an agent that does not filter: the read-only service is not sent at all,
    // and nothing it would refuse (its schemas are strict) is in the answer.
    const older = await beat({ gatewaySessionId: channel });
    expect(older.remoteSessions[0]?.services).toEqual([
      { name: "Web UI", protocol: "tcp", port: 443 },
    ]);
    expect(older.remoteSessions[0]).not.toHaveProperty("technicianAddress");
    const raw = await (await api("/heartbeat", report({ gatewaySessionId: channel }))).json();
    expect(heartbeatResponseSchema.safeParse(raw).success).toBe(true);
    expect(oldAnswerSchema.safeParse(raw).success).toBe(true);
    // The machine file says why the read-only service stays closed at this gateway.
    expect(await p.admin.page(`/machines/${scene.machineId}`)).toContain("cannot filter Modbus");
    await beat({ gatewaySessionId: channel, capabilities: ["modbus-read-only"] });
    expect(await p.admin.page(`/machines/${scene.machineId}`)).not.toContain(
      "cannot filter Modbus",
    );
  });

  test("counts reported for the gateway's own session are kept and shown; others are ignored", async () => {
    const counts = { passed: { "3": 12, "43/14": 1 }, refused: { "6": 2, "16": 1 }, closed: 1 };
    await beat({
      gatewaySessionId: channel,
      capabilities: ["modbus-read-only"],
      modbusEvidence: [
        { remoteSessionId: session, ...counts },
        { remoteSessionId: crypto.randomUUID(), passed: { "3": 99 }, refused: {}, closed: 0 },
      ],
    });
    const [row] = await p.database.db
      .select()
      .from(remoteSessions)
      .where(eq(remoteSessions.id, session));
    expect(row?.modbusEvidence).toMatchObject(counts);
    const page = await p.admin.page("/sessions");
    expect(page).toContain("tcp/502</span> (read-only Modbus)");
    expect(page).toContain("3 × 12, 43/14 × 1");
    expect(page).toContain("6 × 2, 16 × 1");
    expect(page).toContain("1 connection(s) closed: not Modbus/TCP");
  });

  test("a bad report is refused naming the field", async () => {
    const response = await api(
      "/heartbeat",
      report({
        modbusEvidence: [
          { remoteSessionId: session, passed: { write: 1 }, refused: {}, closed: 0 },
        ],
      }),
    );
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("modbusEvidence.0.passed.write");
  });

  test("the end's audit entry carries the counts; the final ones after the end are audited too", async () => {
    await p.access.remoteSessions.disconnect(scene.technician, session);
    expect((await p.lastAudit("remote_session.end"))?.detail).toMatchObject({
      remoteSessionId: session,
      modbusEvidence: { passed: { "3": 12 }, refused: { "6": 2 } },
    });
    await beat({
      gatewaySessionId: channel,
      capabilities: ["modbus-read-only"],
      modbusEvidence: [
        {
          remoteSessionId: session,
          passed: { "3": 13, "43/14": 1 },
          refused: { "6": 3, "16": 1 },
          closed: 1,
        },
      ],
    });
    expect((await p.lastAudit("remote_session.modbus_evidence"))?.detail).toMatchObject({
      remoteSessionId: session,
      modbusEvidence: { passed: { "3": 13 }, refused: { "6": 3 } },
    });
  });
});
