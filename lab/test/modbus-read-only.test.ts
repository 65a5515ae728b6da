// Read-only Modbus/TCP end to end with real packets: the PLC service of site A marked read-only in
// the portal; a technician through the real tunnels reads registers, a write is refused with
// exception 01 and the register keeps its value, while a write on the LAN itself works; the counts
// reach the sessions page; and an ended session's filtered connections are cut within a second.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, labSkipReason, OutputLog } from "../src/netns.ts";
import type { PortalClient } from "../src/portal.ts";
import { modbusWriteScript } from "../src/technician.ts";
import { type Lab, type Site, startLab } from "../src/topology.ts";

const skip = labSkipReason(["openvpn", "nft", "conntrack", "dnsmasq", "chronyd", "dropbear"]);
const MACHINE = "192.168.0.10";

/** Established TCP connections in the gateway's namespace towards the PLC (the filter's upstream). */
const upstreamConnections = (site: Site) =>
  site.gatewayNs
    .exec("ss", "-Htn", "state", "established", "dst", `${MACHINE}:502`)
    .split("\n")
    .filter((line) => line.trim() !== "").length;

describe.skipIf(skip !== null)("read-only Modbus/TCP through the real tunnels", () => {
  let lab: Lab;
  let A: Site;
  let tina: PortalClient;

  const state = async () => (await A.local("GET", "/state")).body;
  const online = () =>
    eventually(async () => (await state()).state === "online", 20_000, 100).then((ok) => {
      if (!ok) throw new Error(`site A not online:\n${A.agent.log.text.slice(-2000)}`);
    });

  beforeAll(async () => {
    lab = await startLab({ remoteSessionMinutes: 2, technicianCertMinutes: 1 });
    [A] = lab.sites;
    writeFileSync(join(lab.dir, "gateway-acme", "import", "bundle.jws"), A.bundle);
    await eventually(async () => A.agent.log.has(`gateway ${A.gatewayId}, version`), 10_000);
    await lab.admin.setServiceMode(A.machineId, "PLC (Modbus)", "modbus-read-only");
    tina = await lab.technician("tina");
  }, 180_000);

  afterAll(async () => {
    await lab?.stop();
  }, 60_000);

  test("reads pass, writes are refused with exception 01 and never reach the PLC; the LAN itself can write", async () => {
    await A.local("POST", "/connect");
    await online();
    const vpn = await lab.openvpn(await tina.connect(A.machineId, "ticket 18: read-only"));
    try {
      expect(
        await eventually(async () => lab.modbusFromTechnician(A.proxyAddress) !== null, 10_000),
      ).toBe(true);
      expect(lab.modbusFromTechnician(A.proxyAddress, 0)).toBe("E".charCodeAt(0));
      expect(lab.modbusFromTechnician(A.proxyAddress, 5)).toBe(1005);
      // Writes through the tunnel: refused at the gateway, the register unchanged.
      expect(lab.modbusWriteFromTechnician(A.proxyAddress, 5, [4711])).toBe("exception 1");
      expect(lab.modbusWriteFromTechnician(A.proxyAddress, 5, [1, 2, 3])).toBe("exception 1");
      expect(lab.modbusFromTechnician(A.proxyAddress, 5)).toBe(1005);
      expect(lab.modbusFromTechnician(A.proxyAddress, 6)).toBe(1006);
      // The same write on the machine LAN (from the gateway's LAN side) reaches the PLC …
      expect(A.gatewayNs.exec("bun", "-e", modbusWriteScript(MACHINE, 5, [77]))).toBe("written");
      // … and the technician reads what the PLC now holds: reads do reach the live machine.
      expect(lab.modbusFromTechnician(A.proxyAddress, 5)).toBe(77);
      // A full service of the same machine is unaffected.
      expect(lab.fetchFromTechnician(`http://${A.proxyAddress}/`)).toBe("machine ACME web UI\n");

      // The counts reach the platform with the next heartbeats and show on the sessions page.
      const page = async () => await lab.admin.page("/sessions");
      expect(
        await eventually(async () => (await page()).includes("6 × 1, 16 × 1"), 20_000, 500),
      ).toBe(true);
      expect(await page()).toMatch(
        /Modbus reads passed \(function × count\): <span class="mono">3 × \d+/,
      );
    } finally {
      await vpn.stop();
      await eventually(async () => (await state()).state === "idle", 10_000, 100);
    }
  }, 90_000);

  test("the session's end cuts an open filtered connection within a second, and no new one opens", async () => {
    await A.local("POST", "/connect");
    await online();
    const vpn = await lab.openvpn(await tina.connect(A.machineId, "ticket 18: the cut"));
    // A technician's tool polling register 1 every 50 ms over one connection.
    const poller = lab.technicianNs.spawn([
      "bun",
      "-e",
      `import { connect } from "node:net";
       const s = connect({ host: ${JSON.stringify(A.proxyAddress)}, port: 502 });
       let t = 0;
       s.on("connect", () => setInterval(() => s.write(Buffer.from([0, ++t & 0xff, 0, 0, 0, 6, 1, 3, 0, 1, 0, 1])), 50));
       s.on("data", (d) => console.log("READ " + d.readUInt16BE(9)));
       s.on("close", () => { console.log("CLOSED"); process.exit(0); });
       s.on("error", () => {});`,
    ]);
    const log = new OutputLog(poller);
    try {
      expect(await eventually(async () => log.has("READ 1001"), 15_000, 50)).toBe(true);
      expect(upstreamConnections(A)).toBe(1);
      const ended = performance.now();
      await lab.admin.disconnectNewestSession();
      // The filter's connection to the PLC is gone within a second of the end.
      expect(await eventually(async () => upstreamConnections(A) === 0, 1000, 20)).toBe(true);
      const cut = Math.round(performance.now() - ended);
      console.log(`session end → filtered connection to the PLC closed: ${cut} ms`);
      expect(cut).toBeLessThanOrEqual(1000);
      // No read answers arrive after the cut, and a new connection reaches nothing.
      const reads = log.text.split("READ").length;
      await Bun.sleep(300);
      expect(log.text.split("READ").length).toBe(reads);
      expect(lab.modbusFromTechnician(A.proxyAddress, 1)).toBeNull();
      expect(upstreamConnections(A)).toBe(0);
    } finally {
      poller.kill();
      await vpn.stop();
    }
  }, 90_000);
});
