// Session rules on a real database with a recording data plane: who may connect, what is granted,
// what every kind of end takes away, and that one-time configs stay one-time.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseCidr, parseConfig } from "@meetpoint/common";
import { count, eq } from "drizzle-orm";
import type { Context } from "../src/access/index.ts";
import { auditEntries } from "../src/db/index.ts";
import {
  createRemoteAccess,
  RecordingDataPlane,
  type RemoteAccess,
  type RemoteAccessDeps,
} from "../src/sessions/index.ts";
import { arrangeMachine } from "./support/arrange.ts";
import { dataChannelProfile, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

let p: TestPlatform;
let plane: RecordingDataPlane;
let sessions: RemoteAccess;
let deps: RemoteAccessDeps;
let gatewayId: string;
let machineId: string;
let technician: Context;

const tunnelNetwork = parseCidr("100.127.0.0/20") ?? { base: 0, prefix: 0 };

async function gatewayOnline(connection: string) {
  const { envelope } = await sessions.dataChannels.request(gatewayId);
  const profile = await dataChannelProfile(p, gatewayId, envelope);
  const decision = await sessions.connections.decide(connection, serialOf(profile));
  if (!decision.allow) throw new Error(decision.reason);
  return { profile, decision };
}

async function actions(action: string) {
  const [row] = await p.database.db
    .select({ n: count() })
    .from(auditEntries)
    .where(eq(auditEntries.action, action));
  return row?.n ?? 0;
}

beforeAll(async () => {
  p = await testPlatform();
  plane = new RecordingDataPlane([
    { index: 0, protocol: "tcp", listenAddress: null, port: 443, tunnelNetwork },
  ]);
  deps = {
    db: p.database.db,
    clock: p.clock,
    pki: p.pki,
    dataPlane: plane,
    proxyPool: p.proxyPool,
    vpn: { host: "platform.lab.test", remoteSessionSeconds: 3600 },
  };
  sessions = createRemoteAccess(deps);
  const scene = await arrangeMachine(p, [
    { name: "Web", protocol: "tcp", port: 443, enabled: true },
    { name: "Modbus", protocol: "tcp", port: 502, enabled: true },
    { name: "SSH", protocol: "tcp", port: 22, enabled: false },
  ]);
  ({ gatewayId, machineId, technician } = scene);
}, 60_000);
afterAll(() => p.dispose());

describe("remote sessions", () => {
  test("no session while the gateway is offline: the operator decides", async () => {
    await expect(
      sessions.remoteSessions.request(technician, machineId, { reason: "fault 4711" }),
    ).rejects.toThrow("The gateway is offline");
  });

  test("gateway Connect: a signed data-channel envelope; its connection gets its tunnel address and proxy block", async () => {
    const { profile, decision } = await gatewayOnline("0:1");
    expect(parseConfig(profile).directives.filter((d) => d.name === "route")).toHaveLength(0);
    expect(decision).toEqual({
      allow: true,
      config: ["ifconfig-push 100.127.0.2 255.255.240.0", "iroute 100.64.0.0 255.255.255.0"],
    });
    expect(await actions("gateway_session.online")).toBe(1);
  });

  test("technician Connect: a one-time .ovpn for exactly the enabled services; a replay is refused", async () => {
    const { session, profile } = await sessions.remoteSessions.request(technician, machineId, {
      reason: "fault 4711",
    });
    expect(session.state).toBe("requested");
    expect(
      parseConfig(profile)
        .directives.filter((d) => d.name === "route")
        .map((d) => d.args[0]),
    ).toEqual(["100.64.0.1"]);
    const serial = serialOf(profile);
    expect(await sessions.connections.decide("0:2", serial)).toEqual({
      allow: true,
      config: ["ifconfig-push 100.127.0.3 255.255.240.0"],
    });
    expect([...plane.grants.keys()].sort()).toEqual([
      "100.127.0.3 . 100.64.0.1 . tcp . 443",
      "100.127.0.3 . 100.64.0.1 . tcp . 502",
    ]);
    expect(await sessions.connections.decide("0:3", serial)).toEqual({
      allow: false,
      reason: expect.stringContaining("already used"),
    });
    expect(await sessions.connections.decide("0:2", serial)).toMatchObject({ allow: true });
    expect(await actions("vpn.connection_denied")).toBe(1);
  });

  test("technician Disconnect cuts everything and closes the gateway's channel: only the operator re-arms", async () => {
    const [active] = await sessions.remoteSessions.list(technician, { open: true });
    if (!active) throw new Error("no active session");
    plane.counters.set("100.127.0.3 . 100.64.0.1 . tcp . 443", { packets: 12, bytes: 3400 });
    await sessions.ends.endRemoteSession(active.id, "technician", technician.caller.actor);
    expect(plane.grants.size).toBe(0);
    expect(plane.forgotten).toEqual([
      { technicianAddress: "100.127.0.3", proxyAddress: "100.64.0.1" },
    ]);
    expect(plane.disconnected).toEqual(["0:2", "0:1"]);
    const [ended] = await sessions.remoteSessions.list(technician, { machineId });
    expect(ended).toMatchObject({
      state: "ended",
      endReason: "technician",
      endedBy: technician.caller.principal.userId,
    });
    expect(ended?.flowEvidence).toEqual([
      { protocol: "tcp", port: 443, packets: 12, bytes: 3400 },
      { protocol: "tcp", port: 502, packets: 0, bytes: 0 },
    ]);
    await expect(
      sessions.remoteSessions.request(technician, machineId, { reason: "again" }),
    ).rejects.toThrow("The gateway is offline");
    expect(await actions("gateway_session.close")).toBe(1);
  });

  test("the session is cut at its end time, and an unused config expires", async () => {
    p.clock.advance(1000);
    await gatewayOnline("0:10");

    const { profile } = await sessions.remoteSessions.request(technician, machineId, {
      reason: "long job",
    });
    await sessions.connections.decide("0:11", serialOf(profile));
    expect(plane.grants.size).toBe(2);
    p.clock.advance(3600_000 + 1000);
    await sessions.ends.endDue();
    expect(plane.grants.size).toBe(0);
    const listed = await sessions.remoteSessions.list(technician, { machineId });
    expect(listed[0]).toMatchObject({
      state: "ended",
      endReason: "expiry",
    });

    const unused = await sessions.remoteSessions.request(technician, machineId, {
      reason: "never used",
    });
    p.clock.advance(601_000);
    await sessions.ends.endDue();
    expect((await sessions.remoteSessions.list(technician, { machineId }))[0]).toMatchObject({
      id: unused.session.id,
      endReason: "config_unused",
    });
    expect(await sessions.connections.decide("0:12", serialOf(unused.profile))).toMatchObject({
      allow: false,
    });
  });

  test("regression: a session shorter than its config's validity is still cut at its end time", async () => {
    const short = createRemoteAccess({
      ...deps,
      vpn: { ...deps.vpn, remoteSessionSeconds: 300 },
    });
    p.clock.advance(1000);
    await gatewayOnline("0:30");
    const { session, profile } = await short.remoteSessions.request(technician, machineId, {
      reason: "short",
    });
    await short.connections.decide("0:31", serialOf(profile));
    p.clock.advance(301_000);
    await short.ends.endDue();
    const [ended] = await short.remoteSessions.list(technician, { id: session.id });
    expect(ended).toMatchObject({ state: "ended", endReason: "expiry" });
  });

  test("operator Disconnect ends the remote sessions on that gateway", async () => {
    const gateway = await sessions.dataChannels.open(gatewayId);
    const { profile } = await sessions.remoteSessions.request(technician, machineId, {
      reason: "check",
    });
    await sessions.connections.decide("0:13", serialOf(profile));
    await sessions.ends.closeGatewaySession(gateway?.id ?? "", "operator", {
      id: null,
      name: "operator",
      ip: null,
    });
    expect((await sessions.remoteSessions.list(technician, { machineId }))[0]).toMatchObject({
      state: "ended",
      endReason: "operator",
    });
    expect(plane.grants.size).toBe(0);
  });

  test("a user without the technician role cannot connect; the data plane being off is said plainly", async () => {
    const auditor = {
      ...technician,
      caller: {
        ...technician.caller,
        principal: {
          ...technician.caller.principal,
          grants: [{ role: "auditor" as const, customerId: null }],
        },
      },
    };
    await expect(
      sessions.remoteSessions.request(auditor, machineId, { reason: "look" }),
    ).rejects.toThrow("Only technicians");
    const off = createRemoteAccess({
      ...deps,
      dataPlane: new RecordingDataPlane([], { on: false, reason: "not running as root" }),
    });
    await expect(off.dataChannels.request(gatewayId)).rejects.toThrow(
      "data plane is off: not running as root",
    );
  });
});
