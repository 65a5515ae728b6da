// The agent's decisions with a fake platform, VPN and firewall: what Connect, faults, commands and
// bad envelopes do to the gateway's state, tunnel and firewall.
import { afterEach, describe, expect, test } from "bun:test";
import { waitFor } from "@meetpoint/common";
import { platformKeys, sign, type TestAgent, testAgent } from "./support/fakes.ts";

let t: TestAgent;
afterEach(() => t?.dispose());

const session = (gatewaySessionId: string) => ({
  id: crypto.randomUUID(),
  state: "active" as const,
  technician: "Tina Technician",
  reason: "ticket 4711",
  machine: "Press",
  proxyAddress: "100.64.0.1",
  lanAddress: "192.168.0.10",
  services: [{ name: "Web UI", protocol: "tcp" as const, port: 80 }],
  since: new Date().toISOString(),
  until: new Date(Date.now() + 3_600_000).toISOString(),
  gatewaySessionId,
});

/** The platform's next heartbeat answer: the channel online with these remote sessions; sent now. */
function platformSays(channel: string, sessions: ReturnType<typeof session>[]) {
  t.control.answer = {
    dataChannel: {
      gatewaySessionId: channel,
      state: "online",
      closeReason: null,
      operatorMustReconnect: false,
    },
    remoteSessions: sessions.map(({ gatewaySessionId: _, ...remote }) => remote),
    maintenanceSessions: [],
    settings: null,
  };
  t.agent.heartbeatNow();
}

async function online(): Promise<string> {
  expect((await t.agent.connect("operator UI")).ok).toBe(true);
  expect(
    await waitFor(() => t.agent.status.state === "online", { timeoutMs: 2000, intervalMs: 5 }),
  ).toBe(true);
  return t.agent.status.gatewaySessionId ?? "";
}

describe("connect agent", () => {
  test("not enrolled: Connect is refused and nothing starts", async () => {
    t = await testAgent({ enrolled: false });
    const result = await t.agent.connect("operator UI");
    expect(result).toEqual({
      ok: false,
      message: "Import the enrollment bundle first: this gateway is not enrolled.",
    });
    expect(t.vpn.profiles).toEqual([]);
  });

  test("Connect: verified envelope, tunnel up, firewall opened only for the platform's sessions", async () => {
    t = await testAgent();
    expect(t.firewall.last).toMatchObject({ tunnelInterface: null, services: [] });
    const channel = await online();
    expect(t.vpn.profiles).toEqual(["client\ndev tun\n"]);
    expect(t.firewall.last).toMatchObject({ tunnelInterface: "meetpoint-tun", services: [] });
    platformSays(channel, [session(channel)]);
    expect(
      await waitFor(() => (t.firewall.last?.services.length ?? 0) === 1, {
        timeoutMs: 2000,
        intervalMs: 5,
      }),
    ).toBe(true);
    expect(t.firewall.last?.services).toEqual([
      { proxyAddress: "100.64.0.1", lanAddress: "192.168.0.10", protocol: "tcp", port: 80 },
    ]);
    expect(t.agent.status.remoteSessions[0]?.technician).toBe("Tina Technician");
  });

  test("a read-only Modbus service is redirected to the agent's filter, never DNAT'ed; the agent says it filters", async () => {
    t = await testAgent();
    const channel = await online();
    expect(t.control.heartbeats.at(-1)?.capabilities).toContain("modbus-read-only");
    const readOnly = {
      ...session(channel),
      technicianAddress: "100.127.0.6",
      services: [
        { name: "Web UI", protocol: "tcp" as const, port: 80, mode: "full" },
        { name: "PLC", protocol: "tcp" as const, port: 502, mode: "modbus-read-only" },
      ],
    };
    platformSays(channel, [readOnly]);
    expect(
      await waitFor(() => (t.firewall.last?.modbusFilters?.length ?? 0) === 1, {
        timeoutMs: 2000,
        intervalMs: 5,
      }),
    ).toBe(true);
    expect(t.firewall.last?.services.map((s) => s.port)).toEqual([80]);
    const [filter] = t.firewall.last?.modbusFilters ?? [];
    expect(filter).toMatchObject({ proxyAddress: "100.64.0.1", port: 502 });
    expect(filter?.listenerPort).toBeGreaterThan(0);
    // The operator sees it on the panel.
    const { StatusPanel } = await import("../src/ui/status-panel.tsx");
    const panel = String(
      StatusPanel({
        status: t.agent.status,
        enrolled: true,
        platform: null,
        contact: null,
        csrf: "",
      }),
    );
    expect(panel).toContain("read-only: Modbus reads only, writes refused");
    // The session ends: the redirect goes, and the listener with it.
    platformSays(channel, []);
    expect(
      await waitFor(() => (t.firewall.last?.modbusFilters?.length ?? 1) === 0, {
        timeoutMs: 2000,
        intervalMs: 5,
      }),
    ).toBe(true);
  });

  test.each([
    [
      "for another gateway",
      async (t: TestAgent, id: string) =>
        sign(t.keys, "data-channel", crypto.randomUUID(), { gatewaySessionId: id, profile: "x" }),
      "wrong audience",
    ],
    [
      "expired",
      async (t: TestAgent, id: string) =>
        sign(
          t.keys,
          "data-channel",
          t.gatewayId,
          { gatewaySessionId: id, profile: "x" },
          { issuedAt: new Date(Date.now() - 3_600_000), validMs: 60_000 },
        ),
      "expired at",
    ],
    [
      "older than one accepted before",
      async (t: TestAgent, id: string) =>
        sign(
          t.keys,
          "data-channel",
          t.gatewayId,
          { gatewaySessionId: id, profile: "x" },
          { version: 1 },
        ),
      "rollback refused",
    ],
    [
      "truncated",
      async (t: TestAgent, id: string) =>
        (
          await sign(t.keys, "data-channel", t.gatewayId, { gatewaySessionId: id, profile: "x" })
        ).slice(0, 80),
      "malformed",
    ],
    [
      "for another data channel",
      async (t: TestAgent) =>
        sign(t.keys, "data-channel", t.gatewayId, {
          gatewaySessionId: crypto.randomUUID(),
          profile: "x",
        }),
      "names another data channel",
    ],
  ] as const)(
    "a data-channel envelope %s is refused; no tunnel starts",
    async (_, make, reason) => {
      t = await testAgent();
      t.store.saveVersions({ "data-channel": 50 });
      t.control.nextEnvelope = (id) => make(t, id);
      await t.agent.connect("operator UI");
      expect(
        await waitFor(() => t.agent.status.lastError !== null, { timeoutMs: 2000, intervalMs: 5 }),
      ).toBe(true);
      expect(t.agent.status.lastError).toContain(reason);
      expect(t.agent.status.state).toBe("reconnecting");
      expect(t.vpn.profiles).toEqual([]);
      expect(t.firewall.last?.tunnelInterface).toBeNull();
    },
  );

  test("a tunnel that drops: the firewall closes at once, a new data channel follows by itself", async () => {
    t = await testAgent();
    const first = await online();
    t.vpn.handlers?.down("the data channel dropped (connection-reset)");
    expect(
      await waitFor(() => t.agent.status.state === "reconnecting", {
        timeoutMs: 1000,
        intervalMs: 5,
      }),
    ).toBe(true);
    expect(t.firewall.last?.tunnelInterface).toBeNull();
    expect(t.agent.status.lastError).toBe("the data channel dropped (connection-reset)");
    expect(
      await waitFor(() => t.agent.status.state === "online", { timeoutMs: 5000, intervalMs: 20 }),
    ).toBe(true);
    expect(t.agent.status.gatewaySessionId).not.toBe(first);
  });

  test("a reconnect the platform refuses (technician ended it) leaves the gateway idle", async () => {
    t = await testAgent();
    await online();
    t.control.refuseReconnect =
      "the data channel was closed (remote session ended by technician): only the operator can connect again";
    t.vpn.handlers?.down("the data channel dropped");
    expect(
      await waitFor(() => t.agent.status.state === "idle", { timeoutMs: 5000, intervalMs: 20 }),
    ).toBe(true);
    expect(t.agent.status.lastError).toContain("only the operator can connect again");
  });

  test("a signed disconnect command for this channel ends it; one for an old channel is ignored", async () => {
    t = await testAgent();
    const channel = await online();
    const delivered = async (token: string) => {
      await waitFor(() => t.control.polling, { timeoutMs: 3000, intervalMs: 5 });
      t.control.push(token);
      await waitFor(() => t.control.polling, { timeoutMs: 3000, intervalMs: 5 });
    };
    await delivered(
      await sign(t.keys, "command", t.gatewayId, {
        command: "disconnect",
        reason: "old",
        gatewaySessionId: crypto.randomUUID(),
      }),
    );
    expect(t.agent.status.state).toBe("online");
    // Signed by someone else: refused and logged.
    const stranger = await platformKeys();
    await delivered(
      await sign(stranger, "command", t.gatewayId, {
        command: "disconnect",
        reason: "forged",
        gatewaySessionId: channel,
      }),
    );
    expect(t.agent.status.state).toBe("online");
    expect(t.events.recent(1)[0]?.text).toContain("command refused: bad signature");
    await delivered(
      await sign(t.keys, "command", t.gatewayId, {
        command: "disconnect",
        reason: "remote session ended by admin",
        gatewaySessionId: channel,
      }),
    );
    expect(
      await waitFor(() => t.agent.status.state === "idle", { timeoutMs: 1000, intervalMs: 5 }),
    ).toBe(true);
    expect(t.agent.status.lastError).toBe("remote session ended by admin");
    expect(t.vpn.running).toBe(false);
    expect(t.control.disconnects).toBe(0);
  });

  test("the operator's Disconnect stops the tunnel, closes the firewall and tells the platform", async () => {
    t = await testAgent();
    await online();
    await t.agent.disconnect("operator UI", null);
    expect(t.agent.status).toMatchObject({
      state: "idle",
      lastError: null,
      gatewaySessionId: null,
    });
    expect(t.vpn.running).toBe(false);
    expect(t.firewall.last?.tunnelInterface).toBeNull();
    expect(t.control.disconnects).toBe(1);
  });

  test("heartbeats carry state, versions and local time; an unreachable platform is reported", async () => {
    t = await testAgent();
    await online();
    t.agent.heartbeatNow();
    expect(
      await waitFor(() => t.control.heartbeats.some((h) => h.state === "online"), {
        timeoutMs: 1000,
        intervalMs: 5,
      }),
    ).toBe(true);
    expect(t.control.heartbeats.at(-1)).toMatchObject({
      agentVersion: "0.1.0",
      openvpnVersion: "2.6.14",
    });
    t.control.reachable = false;
    t.agent.heartbeatNow();
    expect(
      await waitFor(() => t.agent.contact?.ok === false, { timeoutMs: 1000, intervalMs: 5 }),
    ).toBe(true);
    expect(t.agent.contact?.error).toBe("no route to the platform");
    // The tunnel does not depend on the control channel.
    expect(t.agent.status.state).toBe("online");
  });

  test("regression: the operator's Disconnect forgets the established flows of every closed service", async () => {
    t = await testAgent();
    const channel = await online();
    platformSays(channel, [session(channel)]);
    expect(
      await waitFor(() => (t.firewall.last?.services.length ?? 0) === 1, { timeoutMs: 2000 }),
    ).toBe(true);
    expect(t.firewall.forgotten).toEqual([]);
    await t.agent.disconnect("operator UI", null);
    expect(t.firewall.forgotten).toEqual([
      [{ proxyAddress: "100.64.0.1", lanAddress: "192.168.0.10", protocol: "tcp", port: 80 }],
    ]);
  });

  test("regression: a firewall close that fails is logged, retried and lands; it is never swallowed", async () => {
    t = await testAgent();
    await online();
    t.firewall.failing = 4; // three tries of the Disconnect's close, and the first background retry
    await t.agent.disconnect("operator UI", null);
    const errors = () => t.events.recent().filter((e) => e.level === "error");
    expect(errors().map((e) => e.text)).toContain(
      "the firewall: nft: Operation not permitted (attempt 3 of 3)",
    );
    expect(t.vpn.running).toBe(false);
    expect(
      await waitFor(() => t.firewall.last?.tunnelInterface === null, { timeoutMs: 8000 }),
    ).toBe(true);
    expect(t.events.recent().some((e) => e.text.startsWith("the firewall: set after"))).toBe(true);
  });

  test("regression: Connect pressed while the platform's close is in flight is not lost", async () => {
    t = await testAgent();
    const first = await online();
    // The platform has closed the channel for a technician's Disconnect; the agent has not heard yet.
    t.control.answer = {
      dataChannel: {
        gatewaySessionId: first,
        state: "closed",
        closeReason: "remote session ended by technician",
        operatorMustReconnect: true,
      },
      remoteSessions: [],
      maintenanceSessions: [],
      settings: null,
    };
    expect(t.agent.status.state).toBe("online");
    const pressed = await t.agent.connect("operator UI");
    expect(pressed).toEqual({ ok: true, message: "Connecting…" });
    expect(
      await waitFor(
        () => t.agent.status.state === "online" && t.agent.status.gatewaySessionId !== first,
        { timeoutMs: 5000 },
      ),
    ).toBe(true);
  });

  test("a maintenance window open now arms the channel naming it; its removal (cancel) disarms it", async () => {
    t = await testAgent();
    const window = {
      id: crypto.randomUUID(),
      start: new Date(Date.now() - 1000).toISOString(),
      end: new Date(Date.now() + 3_600_000).toISOString(),
      reason: "retrofit",
      createdBy: "operator at gateway Hall 1",
    };
    t.control.answer = { ...t.control.answer, maintenanceWindows: [window] };
    t.agent.heartbeatNow();
    expect(
      await waitFor(() => t.agent.status.state === "online", { timeoutMs: 2000, intervalMs: 5 }),
    ).toBe(true);
    expect(t.control.windowIds).toEqual([window.id]);
    t.control.answer = {
      ...t.control.answer,
      dataChannel: {
        gatewaySessionId: t.agent.status.gatewaySessionId ?? "",
        state: "online",
        closeReason: null,
        operatorMustReconnect: false,
      },
      maintenanceWindows: [],
    };
    t.agent.heartbeatNow();
    expect(
      await waitFor(() => t.agent.status.state === "idle", { timeoutMs: 2000, intervalMs: 5 }),
    ).toBe(true);
    expect(t.control.disconnectWindows).toEqual([window.id]);
  });

  test("a window arming the platform refuses (409) stays disarmed: no retry as if the operator had pressed Connect", async () => {
    t = await testAgent();
    t.control.refuseWindow = "maintenance window is not open now";
    t.control.answer = {
      ...t.control.answer,
      maintenanceWindows: [
        {
          id: crypto.randomUUID(),
          start: new Date(Date.now() - 1000).toISOString(),
          end: new Date(Date.now() + 3_600_000).toISOString(),
          reason: "retrofit",
          createdBy: "someone",
        },
      ],
    };
    t.agent.heartbeatNow();
    expect(
      await waitFor(() => t.control.windowIds.length > 0 && t.agent.status.state === "idle", {
        timeoutMs: 2000,
        intervalMs: 5,
      }),
    ).toBe(true);
    await Bun.sleep(300);
    expect(t.control.windowIds.every((id) => id !== null)).toBe(true);
    expect(t.agent.status.state).toBe("idle");
  });
});
