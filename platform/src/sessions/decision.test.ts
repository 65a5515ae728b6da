import { describe, expect, test } from "bun:test";
import { parseCidr } from "@meetpoint/common";
import type { ServerInstance } from "./data-plane.ts";
import { decideGateway, decideTechnician } from "./decision.ts";
import type { GatewaySession, RemoteSession } from "./model.ts";

const instance: ServerInstance = {
  index: 0,
  protocol: "tcp",
  listenAddress: null,
  port: 443,
  tunnelNetwork: parseCidr("100.127.0.0/20") ?? { base: 0, prefix: 0 },
};
const block = parseCidr("100.64.3.0/24") ?? { base: 0, prefix: 0 };
const t0 = new Date("2026-11-30T10:00:00Z");
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

const channel = (over: Partial<GatewaySession> = {}): GatewaySession => ({
  id: "c1",
  gatewayId: "g1",
  customerId: "k1",
  state: "connecting",
  vpnInstance: 0,
  instanceId: null,
  tunnelAddress: "100.127.0.2",
  connection: null,
  requestedAt: t0,
  onlineAt: null,
  endsAt: null,
  closedAt: null,
  closeReason: null,
  bytesIn: 0,
  bytesOut: 0,
  createdAt: t0,
  ...over,
});

const remote = (over: Partial<RemoteSession> = {}): RemoteSession => ({
  id: "r1",
  kind: "machine",
  customerId: "k1",
  machineId: "m1",
  gatewaySessionId: "c1",
  technicianId: "u1",
  reason: "fault 4711",
  mode: "full",
  state: "requested",
  windowId: null,
  services: [{ serviceId: "s1", name: "Web", protocol: "tcp", port: 443 }],
  proxyAddress: "100.64.3.1",
  vpnInstance: 0,
  instanceId: null,
  tunnelAddress: "100.127.0.3",
  connection: null,
  requestedAt: t0,
  configExpiresAt: at(600),
  endsAt: at(3600),
  activatedAt: null,
  endedAt: null,
  endReason: null,
  endedBy: null,
  bytesIn: 0,
  bytesOut: 0,
  flowEvidence: null,
  modbusEvidence: null,
  ticket: null,
  consentPolicy: "operator_connect",
  durationSeconds: 3600,
  decideBy: null,
  approvedAt: null,
  approvedBy: null,
  clientProxy: null,
  profileIssuedAt: t0,
  createdAt: t0,
  ...over,
});

describe("the gateway's connection", () => {
  test("a connecting channel goes online with its tunnel address and its proxy block", () => {
    expect(decideGateway({ session: channel(), connection: "0:7", instance, block })).toEqual({
      allow: true,
      goesOnline: true,
      block,
      config: ["ifconfig-push 100.127.0.2 255.255.240.0", "iroute 100.64.3.0 255.255.255.0"],
    });
  });

  test("closed, taken by another connection, deleted gateway, wrong server: each its reason", () => {
    const cases: [Parameters<typeof decideGateway>[0], string][] = [
      [{ session: channel({ state: "closed" }), connection: "0:7", instance, block }, "closed"],
      [
        {
          session: channel({ state: "online", connection: "0:6" }),
          connection: "0:7",
          instance,
          block,
        },
        "already connected",
      ],
      [{ session: channel(), connection: "0:7", instance, block: null }, "deleted"],
      [{ session: channel(), connection: "1:7", instance, block }, "wrong OpenVPN server"],
    ];
    for (const [input, reason] of cases)
      expect(decideGateway(input)).toEqual({
        allow: false,
        reason: expect.stringContaining(reason),
      });
  });

  test("the online channel's own connection renegotiating stays allowed, not online again", () => {
    const verdict = decideGateway({
      session: channel({ state: "online", connection: "0:7" }),
      connection: "0:7",
      instance,
      block,
    });
    expect(verdict).toMatchObject({ allow: true, goesOnline: false });
  });
});

describe("a technician's connection", () => {
  const base = {
    connection: "0:9",
    renegotiation: false,
    instance,
    now: at(10),
    gatewayOnline: true,
  };

  test("the first connection of a waiting session activates it", () => {
    expect(decideTechnician({ ...base, session: remote() })).toEqual({
      kind: "activate",
      activatedAt: at(10),
      config: ["ifconfig-push 100.127.0.3 255.255.240.0"],
    });
  });

  test("its own renegotiation passes; nothing else connects a second time", () => {
    const active = remote({ state: "active", connection: "0:9", activatedAt: at(5) });
    expect(decideTechnician({ ...base, session: active, renegotiation: true }).kind).toBe(
      "renegotiate",
    );
    expect(decideTechnician({ ...base, session: active, connection: "0:10" })).toEqual({
      kind: "refuse",
      reason: "the session is already connected",
    });
  });

  test("a gateway gone offline ends the session", () => {
    expect(decideTechnician({ ...base, session: remote(), gatewayOnline: false })).toEqual({
      kind: "refuse",
      reason: "the gateway is no longer online",
      end: "gateway_lost",
    });
  });

  test("a config used after its expiry ends the session as unused; after the end time, as expired", () => {
    expect(decideTechnician({ ...base, session: remote(), now: at(601) })).toEqual({
      kind: "refuse",
      reason: "session ended (config_unused)",
      end: "config_unused",
    });
    expect(
      decideTechnician({
        ...base,
        session: remote({ configExpiresAt: at(7200) }),
        now: at(3601),
      }),
    ).toMatchObject({ kind: "refuse", end: "expiry" });
  });

  test("an ended session stays ended; an unknown one is refused", () => {
    expect(
      decideTechnician({ ...base, session: remote({ state: "ended", endReason: "admin" }) }),
    ).toEqual({ kind: "refuse", reason: "the session has ended" });
    expect(decideTechnician({ ...base, session: null })).toEqual({
      kind: "refuse",
      reason: "remote session not found",
    });
  });
});
