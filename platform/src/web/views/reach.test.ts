import { describe, expect, test } from "bun:test";
import type { AgentReport } from "../../db/index.ts";
import { gatewayReach } from "./reach.tsx";

const now = new Date("2026-11-30T10:00:00Z");
const agent = (over: Partial<AgentReport>): AgentReport => ({
  state: "idle",
  agentVersion: "0.1.0",
  openvpnVersion: "2.6.12",
  clockOffsetMs: 0,
  lastError: null,
  ip: "198.18.0.2",
  phase: "idle",
  phaseSince: "2026-11-30T09:00:00.000Z",
  ...over,
});
const seen = new Date("2026-11-30T09:59:55Z");

describe("a gateway's reach, as the portal says it", () => {
  test("online only when the platform holds the data channel online", () => {
    const reach = gatewayReach(
      {
        lastSeenAt: seen,
        agent: agent({ state: "online", phase: "online" }),
        channel: { state: "online", requestedAt: now, onlineAt: new Date("2026-11-30T09:50:00Z") },
      },
      now,
    );
    expect(reach).toMatchObject({ kind: "online", act: null });
    expect(reach.since?.toISOString()).toBe("2026-11-30T09:50:00.000Z");
  });

  test("regression: the operator pressed Connect and the gateway is retrying — not 'becomes possible when the operator presses Connect'", () => {
    const reach = gatewayReach(
      {
        lastSeenAt: seen,
        agent: agent({
          state: "reconnecting",
          phase: "failing",
          phaseSince: "2026-11-30T09:50:00.000Z",
          lastError: "the data channel did not come up within 30 s",
        }),
        channel: null,
      },
      now,
    );
    expect(reach.kind).toBe("failing");
    expect(reach.since?.toISOString()).toBe("2026-11-30T09:50:00.000Z");
    expect(reach.sentence).toContain("Cannot connect — retrying; reason: the data channel did not");
    expect(reach.act).toStartWith("Plant IT must act");
    expect(reach.sentence).not.toContain("presses Connect");
  });

  test("idle: the operator must press Connect; after a technician's end, that is said", () => {
    expect(gatewayReach({ lastSeenAt: seen, agent: agent({}), channel: null }, now).act).toContain(
      "operator at the machine must press Connect",
    );
    const ended = gatewayReach(
      {
        lastSeenAt: seen,
        agent: agent({ lastError: "remote session ended by technician" }),
        channel: null,
      },
      now,
    );
    expect(ended.sentence).toBe("Remote access is off: remote session ended by technician.");
  });

  test("a workstation never reports: offline until the plant goes online, never 'not enrolled'", () => {
    const requestedAt = new Date("2026-11-30T09:59:00Z");
    const offline = gatewayReach(
      { kind: "workstation", lastSeenAt: null, agent: null, channel: null },
      now,
    );
    expect(offline).toMatchObject({ kind: "idle", word: "offline" });
    expect(offline.act).toContain("presses Go online");
    expect(
      gatewayReach(
        {
          kind: "workstation",
          lastSeenAt: null,
          agent: null,
          channel: { state: "connecting", requestedAt, onlineAt: null },
        },
        now,
      ),
    ).toMatchObject({ kind: "connecting", word: "waiting", since: requestedAt });
    expect(
      gatewayReach(
        {
          kind: "workstation",
          lastSeenAt: null,
          agent: null,
          channel: { state: "online", requestedAt, onlineAt: now },
        },
        now,
      ),
    ).toMatchObject({ kind: "online", since: now });
  });

  test("never reported, and silent for over a minute", () => {
    expect(gatewayReach({ lastSeenAt: null, agent: null, channel: null }, now).kind).toBe("never");
    const silent = gatewayReach(
      { lastSeenAt: new Date("2026-11-30T09:58:00Z"), agent: agent({}), channel: null },
      now,
    );
    expect(silent).toMatchObject({ kind: "silent", word: "no contact" });
    expect(silent.act).toStartWith("Plant IT must act");
  });

  test("connecting: since the channel was requested; nobody must act", () => {
    const reach = gatewayReach(
      {
        lastSeenAt: seen,
        agent: agent({ state: "connecting", phase: "connecting" }),
        channel: {
          state: "connecting",
          requestedAt: new Date("2026-11-30T09:59:50Z"),
          onlineAt: null,
        },
      },
      now,
    );
    expect(reach).toMatchObject({ kind: "connecting", act: null });
    expect(reach.since?.toISOString()).toBe("2026-11-30T09:59:50.000Z");
  });
});
