import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type AgentStatus, armed, initialStatus, nextStatus, type StatusEvent } from "./status.ts";

const t0 = new Date("2026-11-25T10:00:00Z");
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const session = {
  id: "7d4f8b1e-3c2a-4e5f-9a6b-1c2d3e4f5a6b",
  state: "active" as const,
  technician: "Tech",
  reason: "ticket 4711",
  machine: "Press",
  proxyAddress: "100.64.0.1",
  lanAddress: "192.168.0.10",
  services: [{ name: "Web UI", protocol: "tcp" as const, port: 443 }],
  since: t0.toISOString(),
  until: at(3600).toISOString(),
};

function run(events: StatusEvent[]): AgentStatus {
  return events.reduce(nextStatus, initialStatus(t0));
}

describe("gateway status", () => {
  test("Connect, data channel, tunnel up: online", () => {
    const status = run([
      { type: "connect", by: "operator UI", at: at(1) },
      { type: "channel", gatewaySessionId: session.id, at: at(1) },
      { type: "tunnel-up", address: "100.127.0.2", at: at(2) },
    ]);
    expect(status).toMatchObject({
      state: "online",
      armedBy: "operator UI",
      gatewaySessionId: session.id,
      since: at(2),
    });
  });

  test("a fault keeps the consent and schedules a retry; a Disconnect ends it", () => {
    const faulty = run([
      { type: "connect", by: "local API", at: at(1) },
      { type: "tunnel-up", address: "100.127.0.2", at: at(2) },
      { type: "sessions", remoteSessions: [session], maintenanceSessions: [] },
      { type: "fault", error: "platform unreachable", retryAt: at(5), at: at(3) },
    ]);
    expect(faulty).toMatchObject({
      state: "reconnecting",
      lastError: "platform unreachable",
      retryAt: at(5),
      remoteSessions: [],
    });
    expect(nextStatus(faulty, { type: "retry", at: at(5) }).state).toBe("connecting");
    const closed = nextStatus(faulty, {
      type: "disconnect",
      error: "remote session ended by technician",
      at: at(6),
    });
    expect(closed).toMatchObject({ state: "idle", armedBy: null, gatewaySessionId: null });
    expect(closed.lastError).toBe("remote session ended by technician");
  });

  test("idle never leaves idle but through Connect", () => {
    const event = fc.oneof(
      fc.constant<StatusEvent>({ type: "tunnel-up", address: "100.127.0.2", at: t0 }),
      fc.constant<StatusEvent>({ type: "retry", at: t0 }),
      fc.constant<StatusEvent>({ type: "channel", gatewaySessionId: session.id, at: t0 }),
      fc.constant<StatusEvent>({ type: "fault", error: "x", retryAt: t0, at: t0 }),
      fc.constant<StatusEvent>({
        type: "sessions",
        remoteSessions: [session],
        maintenanceSessions: [],
      }),
      fc.constant<StatusEvent>({ type: "disconnect", error: null, at: t0 }),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 30 }), (events) => {
        const status = run(events);
        expect(armed(status)).toBe(false);
        expect(status.remoteSessions).toEqual([]);
      }),
    );
  });

  test("regression: 'since' of a gateway that cannot connect stays at the first fault through every retry", () => {
    const status = run([
      { type: "connect", by: "operator UI", at: at(1) },
      {
        type: "fault",
        error: "the data channel did not come up within 30 s",
        retryAt: at(32),
        at: at(31),
      },
      { type: "retry", at: at(32) },
      {
        type: "fault",
        error: "the data channel did not come up within 30 s",
        retryAt: at(64),
        at: at(62),
      },
      { type: "retry", at: at(64) },
    ]);
    expect(status.state).toBe("connecting");
    expect(status.failingSince).toEqual(at(31));
    const online = nextStatus(status, { type: "tunnel-up", address: "100.127.0.2", at: at(70) });
    expect(online.failingSince).toBeNull();
    expect(
      nextStatus(status, { type: "disconnect", error: null, at: at(71) }).failingSince,
    ).toBeNull();
  });
});
