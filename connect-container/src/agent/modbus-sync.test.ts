import { afterAll, describe, expect, test } from "bun:test";
import { connect, createServer } from "node:net";
import type { GatewayRemoteSession } from "@meetpoint/common";
import { firewallFor } from "./firewall-sync.ts";
import { defaultSettings } from "./gateway-settings.ts";
import { ModbusSync, readOnlyServices, sessionOf } from "./modbus-sync.ts";
import { type AgentStatus, initialStatus } from "./status.ts";

const t0 = new Date("2026-11-30T10:00:00Z");
const session = (id: string, technicianAddress: string): GatewayRemoteSession => ({
  id,
  state: "active",
  technician: "Tech",
  reason: "ticket 18",
  machine: "Press",
  proxyAddress: "100.64.0.1",
  lanAddress: "127.0.0.1",
  technicianAddress,
  services: [
    { name: "Web UI", protocol: "tcp", port: 443, mode: "full" },
    { name: "PLC", protocol: "tcp", port: 502, mode: "modbus-read-only" },
    { name: "Future", protocol: "tcp", port: 4840, mode: "opcua-read-only" },
    { name: "Old platform", protocol: "tcp", port: 80 },
  ],
  since: t0.toISOString(),
  until: t0.toISOString(),
});
const S1 = "7d4f8b1e-3c2a-4e5f-9a6b-1c2d3e4f5a61";
const S2 = "7d4f8b1e-3c2a-4e5f-9a6b-1c2d3e4f5a62";
const online = (sessions: GatewayRemoteSession[]): AgentStatus => ({
  ...initialStatus(t0),
  state: "online",
  tunnelAddress: "100.127.0.2",
  remoteSessions: sessions,
});

describe("which services go where", () => {
  test("full and mode-less services are DNAT'ed; read-only ones go to the filter; unknown modes nowhere", () => {
    const status = online([session(S1, "100.96.0.5")]);
    const model = firewallFor(status, {
      lanInterface: "eth1",
      uiPorts: [],
      settings: defaultSettings("gw"),
      modbusFilters: [
        {
          proxyAddress: "100.64.0.1",
          port: 502,
          listenerPort: 40000,
          technicianAddresses: ["100.96.0.5"],
        },
      ],
    });
    expect(model.services.map((s) => s.port).sort()).toEqual([443, 80]);
    expect(model.modbusFilters).toEqual([
      {
        proxyAddress: "100.64.0.1",
        port: 502,
        listenerPort: 40000,
        technicianAddresses: ["100.96.0.5"],
      },
    ]);
    expect(readOnlyServices(status).map((s) => s.port)).toEqual([502]);
  });

  test("read-only per session: a full technician's 502 is DNAT'ed, only the read-only technician goes to the filter and never in full", () => {
    const readOnly = session(S1, "100.96.0.5");
    const full: GatewayRemoteSession = {
      ...session(S2, "100.96.0.6"),
      services: [{ name: "PLC", protocol: "tcp", port: 502, mode: "full" }],
    };
    const status = online([readOnly, full]);
    expect(readOnlyServices(status)).toEqual([
      {
        proxyAddress: "100.64.0.1",
        lanAddress: "127.0.0.1",
        port: 502,
        technicianAddresses: ["100.96.0.5"],
      },
    ]);
    const model = firewallFor(status, {
      lanInterface: "eth1",
      uiPorts: [],
      settings: defaultSettings("gw"),
    });
    expect(model.services.map((s) => s.port).sort()).toEqual([443, 502, 80]);
    // A mode this agent does not know (4840) never passes in full either.
    expect(model.readOnlyFlows).toEqual([
      { technicianAddress: "100.96.0.5", lanAddress: "127.0.0.1", port: 502 },
      { technicianAddress: "100.96.0.5", lanAddress: "127.0.0.1", port: 4840 },
    ]);
    const service = readOnlyServices(status)[0];
    if (!service) throw new Error("no service");
    // The filter admits the read-only technician only; the full one never reaches it.
    expect(sessionOf(status, service, "100.96.0.5")).toBe(S1);
    expect(sessionOf(status, service, "100.96.0.6")).toBeNull();
    // A session without its address cannot be told apart: every source goes through the filter.
    const { technicianAddress: _, ...anonymous } = session(S2, "100.96.0.6");
    expect(readOnlyServices(online([readOnly, anonymous]))[0]?.technicianAddresses).toBeNull();
  });

  test("a connection belongs to the session of its technician's address, and only while online", () => {
    const status = online([session(S1, "100.96.0.5"), session(S2, "100.96.0.6")]);
    const [service] = readOnlyServices(status);
    if (!service) throw new Error("no service");
    expect(sessionOf(status, service, "100.96.0.6")).toBe(S2);
    expect(sessionOf(status, service, "192.168.0.99")).toBeNull();
    expect(sessionOf({ ...status, state: "reconnecting" }, service, "100.96.0.5")).toBeNull();
  });
});

describe("ModbusSync", () => {
  const machine = createServer((socket) => socket.on("error", () => {}));
  machine.listen(0, "127.0.0.1");
  afterAll(() => machine.close());

  test("a listener per read-only service; a session's end closes its connections and is reported", async () => {
    let status = online([{ ...session(S1, "127.0.0.1"), services: [] }]);
    const address = machine.address();
    const machinePort = typeof address === "object" && address ? address.port : 0;
    status = online([
      {
        ...session(S1, "127.0.0.1"),
        services: [{ name: "PLC", protocol: "tcp", port: machinePort, mode: "modbus-read-only" }],
      },
    ]);
    let reports = 0;
    const sync = new ModbusSync({
      status: () => status,
      report: () => reports++,
      log: () => {},
      host: "127.0.0.1",
    });
    await sync.follow();
    const [redirect] = sync.redirects();
    expect(redirect?.port).toBe(machinePort);
    expect(redirect?.technicianAddresses).toEqual(["127.0.0.1"]);
    const socket = connect({ host: "127.0.0.1", port: redirect?.listenerPort ?? 0 });
    const closed = new Promise((resolve) => socket.on("close", resolve));
    await new Promise((resolve) => socket.on("connect", resolve));
    socket.write(Buffer.from([0, 1, 0, 0, 0, 6, 1, 6, 0, 0, 0, 9]));
    const refused = await new Promise<Buffer>((resolve) => socket.once("data", resolve));
    expect([...refused]).toEqual([0, 1, 0, 0, 0, 3, 1, 0x86, 1]);
    expect(sync.pending()).toEqual([
      { remoteSessionId: S1, passed: {}, refused: { "6": 1 }, closed: 0 },
    ]);

    // The session ends: its connection is closed, the listener goes, the final counts are reported.
    status = online([]);
    await sync.follow();
    await closed;
    expect(sync.redirects()).toEqual([]);
    expect(reports).toBe(1);
    const sent = sync.pending();
    sync.reported(sent);
    expect(sync.pending()).toEqual([]);
    sync.stop();
  });
});
