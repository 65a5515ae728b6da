// Workstations and SSH maintenance on the real data plane: OpenVPN server, nftables and conntrack
// in a namespace; a plant PC with the stock openvpn client and its own services in another; a
// connect gateway and a technician in theirs. A technician reaches the workstation's enabled
// services at its proxy address only; Go offline cuts within a second; a platform admin reaches a
// gateway's tunnel address on port 22 only, for the maintenance session's time.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCidr } from "@meetpoint/common";
import { labSkipReason, link, Netns, OutputLog, waitFor } from "@meetpoint/lab";
import type { Context } from "../src/access/index.ts";
import { KernelFirewall } from "../src/firewall/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import {
  createCustomer,
  createGateway,
  createService,
  createSite,
  listMachines,
} from "../src/masterdata/index.ts";
import { createRemoteAccess, type RemoteAccess } from "../src/sessions/index.ts";
import { commandRunner } from "../src/system/commands.ts";
import { KernelDataPlane } from "../src/vpn/data-plane.ts";
import { dataChannelProfile } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

const skip = labSkipReason(["openvpn", "nft", "conntrack"]);
const PLATFORM = "198.18.221.1";

describe.skipIf(skip !== null)("workstations and SSH maintenance on the real data plane", () => {
  let p: TestPlatform;
  let dir: string;
  let platformNs: Netns;
  let workstationNs: Netns;
  let gatewayNs: Netns;
  let technicianNs: Netns;
  let plane: KernelDataPlane;
  let access: RemoteAccess;
  let workstationId: string;
  let workstationMachineId: string;
  let proxyAddress: string;
  let connectGatewayId: string;
  let technician: Context;
  let operator: Context;

  const contextOf = (
    userId: string,
    name: string,
    grants: Context["caller"]["principal"]["grants"],
  ): Context => ({
    db: p.database.db,
    clock: p.clock,
    caller: {
      principal: { userId, username: name, displayName: name, grants },
      actor: { id: userId, name, ip: "198.18.222.2" },
    },
  });

  /** A TCP exchange from the technician's host: true when `host:port` answers with "service". */
  function reaches(host: string, port: number, timeoutMs = 1500): boolean {
    const script = `try { const r = await fetch("http://${host}:${port}/", { signal: AbortSignal.timeout(${timeoutMs}) }); console.log(await r.text()); } catch { console.log("unreachable"); }`;
    return technicianNs.exec("bun", "-e", script).includes("service");
  }

  function openvpn(ns: Netns, profile: string, name: string): OutputLog {
    const file = join(dir, `${name}-${crypto.randomUUID()}.ovpn`);
    writeFileSync(file, profile, { mode: 0o600 });
    return new OutputLog(ns.spawn(["openvpn", "--config", file]));
  }

  async function connected(log: OutputLog): Promise<void> {
    if (!(await waitFor(() => log.has("Initialization Sequence Completed"), 15_000)))
      throw new Error(`openvpn did not connect:\n${log.text.slice(-3000)}`);
  }

  beforeAll(async () => {
    p = await testPlatform();
    dir = mkdtempSync(join(tmpdir(), "meetpoint-workstation-"));
    platformNs = Netns.create("ws-plat");
    workstationNs = Netns.create("ws-pc");
    gatewayNs = Netns.create("ws-gw");
    technicianNs = Netns.create("ws-tech");
    link(platformNs, `${PLATFORM}/30`, workstationNs, "198.18.221.2/30");
    link(platformNs, "198.18.222.1/30", technicianNs, "198.18.222.2/30");
    link(platformNs, "198.18.223.1/30", gatewayNs, "198.18.223.2/30");
    technicianNs.exec("ip", "route", "add", `${PLATFORM}/32`, "via", "198.18.222.1");
    gatewayNs.exec("ip", "route", "add", `${PLATFORM}/32`, "via", "198.18.223.1");
    // The plant PC's services (VNC enabled, RDP not) and the gateway's SSH and operator UI, on
    // every address: what limits them is the platform's firewall under test.
    for (const [ns, port] of [
      [workstationNs, 5900],
      [workstationNs, 3389],
      [gatewayNs, 22],
      [gatewayNs, 8443],
    ] as const)
      ns.spawn([
        "bun",
        "-e",
        `Bun.serve({ hostname: "0.0.0.0", port: ${port}, fetch: () => new Response("service ${port}") })`,
      ]);

    plane = new KernelDataPlane({
      commands: commandRunner(platformNs.name),
      runtimeDir: join(dir, "run"),
      pki: p.pki,
      proxyPool: p.proxyPool.pool,
      tunnelPool: parseCidr("100.127.0.0/16") ?? { base: 0, prefix: 0 },
      listen: [{ protocol: "tcp", port: 1194 }],
      log: () => {},
    });
    access = createRemoteAccess({
      db: p.database.db,
      clock: p.clock,
      pki: p.pki,
      dataPlane: plane,
      proxyPool: p.proxyPool,
      vpn: { host: PLATFORM, remoteSessionSeconds: 3600 },
    });
    const status = await plane.start(access.connections);
    if (!status.on) throw new Error(`data plane off: ${status.reason}`);

    const customer = await createCustomer(p.adminCtx, { name: "ACME" });
    const site = await createSite(p.adminCtx, customer.id, { name: "Plant" });
    workstationId = (
      await createGateway(p.adminCtx, p.proxyPool, site.id, { name: "HMI PC", kind: "workstation" })
    ).gateway.id;
    const [machine] = (await listMachines(p.adminCtx, { gatewayId: workstationId })).machines;
    workstationMachineId = machine?.id ?? "";
    proxyAddress = machine?.proxyAddress ?? "";
    await createService(p.adminCtx, workstationMachineId, {
      name: "VNC",
      protocol: "tcp",
      port: 5900,
      enabled: true,
    });
    await createService(p.adminCtx, workstationMachineId, {
      name: "RDP",
      protocol: "tcp",
      port: 3389,
      enabled: false,
    });
    connectGatewayId = (await createGateway(p.adminCtx, p.proxyPool, site.id, { name: "Hall 1" }))
      .gateway.id;
    const t = await createUser(p.adminCtx, { username: "tech", displayName: "Tech" });
    await grantRole(p.adminCtx, t.user.id, { role: "technician", customerId: customer.id });
    technician = contextOf(t.user.id, "tech", [{ role: "technician", customerId: customer.id }]);
    const o = await createUser(p.adminCtx, { username: "olga", displayName: "Olga" });
    await grantRole(p.adminCtx, o.user.id, { role: "operator", customerId: customer.id });
    operator = contextOf(o.user.id, "olga", [{ role: "operator", customerId: customer.id }]);
  }, 60_000);

  afterAll(async () => {
    await plane?.stop();
    for (const ns of [technicianNs, gatewayNs, workstationNs, platformNs]) ns?.destroy();
    await p?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the workstation's translation is idempotent in the kernel: set twice, moved, removed twice", async () => {
    const firewall = new KernelFirewall(commandRunner(platformNs.name));
    const listed = () =>
      platformNs.exec("nft", "list", "map", "inet", "meetpoint", "workstation_addresses");
    await firewall.translate("100.64.9.1", "100.127.0.50");
    await firewall.translate("100.64.9.1", "100.127.0.50");
    expect(listed()).toContain("100.64.9.1 : 100.127.0.50");
    await firewall.translate("100.64.9.1", "100.127.0.51");
    expect(listed()).toContain("100.64.9.1 : 100.127.0.51");
    expect(listed()).not.toContain("100.127.0.50");
    await firewall.translate("100.64.9.1", null);
    await firewall.translate("100.64.9.1", null);
    expect(listed()).not.toContain("100.64.9.1");
  });

  test("a technician reaches the workstation's enabled service at its proxy address, and nothing else", async () => {
    const online = await access.dataChannels.goOnline(operator, workstationId);
    if (!("profile" in online)) throw new Error("the workstation was online already");
    const pc = openvpn(workstationNs, online.profile, "workstation");
    await connected(pc);
    const tunnelAddress = (await access.dataChannels.open(workstationId))?.tunnelAddress ?? "";
    // Its profile is spent: a copy on another PC does not connect.
    const copy = openvpn(workstationNs, online.profile, "copy");
    await waitFor(
      () => copy.has("AUTH_FAILED") || copy.has("Initialization Sequence Completed"),
      10_000,
    );
    expect(copy.has("Initialization Sequence Completed")).toBe(false);

    const { profile } = await access.remoteSessions.request(technician, workstationMachineId, {
      reason: "HMI update",
    });
    await connected(openvpn(technicianNs, profile, "tech"));
    expect(reaches(proxyAddress, 5900)).toBe(true);
    expect(reaches(proxyAddress, 3389)).toBe(false); // a service that is not enabled
    expect(reaches(tunnelAddress, 5900)).toBe(false); // the tunnel address, around the grant
    // The workstation's OpenVPN still connects (the technician's end closes its channel below).
    expect(pc.has("Initialization Sequence Completed")).toBe(true);
  }, 90_000);

  test("Go offline from the portal stops traffic within a second; the plant brings it back with a new file", async () => {
    expect(reaches(proxyAddress, 5900)).toBe(true);
    const started = performance.now();
    await access.dataChannels.goOffline(operator, workstationId);
    let stoppedAfter = Number.POSITIVE_INFINITY;
    while (performance.now() - started < 5000)
      if (!reaches(proxyAddress, 5900, 300)) {
        stoppedAfter = performance.now() - started;
        break;
      }
    console.log(`workstation Go offline → no traffic after ${stoppedAfter.toFixed(0)} ms`);
    expect(stoppedAfter).toBeLessThan(1000);
    const [session] = await access.remoteSessions.list(technician, {
      machineId: workstationMachineId,
    });
    expect(session?.state).toBe("ended");
    expect(
      platformNs.exec("nft", "list", "map", "inet", "meetpoint", "workstation_addresses"),
    ).not.toContain(proxyAddress);
  }, 30_000);

  test("SSH maintenance: the admin reaches the gateway's tunnel address on port 22 only, until the session ends", async () => {
    const { envelope } = await access.dataChannels.request(connectGatewayId);
    await connected(
      openvpn(gatewayNs, await dataChannelProfile(p, connectGatewayId, envelope), "gw"),
    );
    const gatewayAddress = (await access.dataChannels.open(connectGatewayId))?.tunnelAddress ?? "";
    // Before any maintenance session, and for a technician, the gateway itself is closed.
    expect(reaches(gatewayAddress, 22)).toBe(false);

    const { session, profile, target } = await access.maintenance.request(
      p.adminCtx,
      connectGatewayId,
      { reason: "update failed" },
    );
    expect(target).toBe(gatewayAddress);
    await connected(openvpn(technicianNs, profile, "admin"));
    expect(reaches(gatewayAddress, 22)).toBe(true);
    expect(reaches(gatewayAddress, 8443)).toBe(false); // the gateway's operator UI
    expect(reaches(proxyAddress, 5900)).toBe(false); // a machine: not what maintenance grants

    const started = performance.now();
    await access.ends.endRemoteSession(session.id, "admin", p.adminCtx.caller.actor);
    expect(reaches(gatewayAddress, 22, 1000)).toBe(false);
    console.log(
      `maintenance end → no traffic after ${(performance.now() - started).toFixed(0)} ms`,
    );
  }, 90_000);
});
