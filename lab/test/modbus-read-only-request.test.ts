// Read-only per request, end to end with real packets: the PLC service of site A is a full service;
// Tina's request asks for read-only, Tom's (a second technician, his own OpenVPN client and tunnel
// address) for full access, both on the same machine and port at the same time. Tina's reads pass,
// her writes are answered with exception 01 and the register keeps its value; Tom writes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, labSkipReason } from "../src/netns.ts";
import type { PortalClient } from "../src/portal.ts";
import { type Lab, type Site, startLab } from "../src/topology.ts";

const skip = labSkipReason(["openvpn", "nft", "conntrack", "dnsmasq", "chronyd", "dropbear"]);
/** Tom's OpenVPN client's tun device and the routing table that sends his source through it. */
const TOM_DEVICE = "tun42";
const TOM_TABLE = "142";

describe.skipIf(skip !== null)("read-only per request through the real tunnels", () => {
  let lab: Lab;
  let A: Site;
  let tina: PortalClient;
  let tom: PortalClient;

  const state = async () => (await A.local("GET", "/state")).body;

  /**
   * One Modbus/TCP request from the technicians' host, from `source` (a tunnel address): the
   * answer's PDU as bytes, or null when nothing answered.
   */
  const modbusFrom = (source: string, pdu: number[]): number[] | null => {
    const frame = [0, 7, 0, 0, 0, pdu.length + 1, 1, ...pdu];
    const script = `import { connect } from "node:net";
      const s = connect({ host: ${JSON.stringify(A.proxyAddress)}, port: 502, localAddress: ${JSON.stringify(source)} });
      const t = setTimeout(() => { process.stdout.write("NONE"); process.exit(0); }, 1500);
      s.on("connect", () => s.write(Buffer.from(${JSON.stringify(frame)})));
      s.on("data", (d) => { clearTimeout(t); process.stdout.write([...d.subarray(7)].join(",")); process.exit(0); });
      s.on("error", () => { clearTimeout(t); process.stdout.write("NONE"); process.exit(0); });`;
    const out = lab.technicianNs.exec("bun", "-e", script);
    return out === "NONE" || out === "" ? null : out.split(",").map(Number);
  };
  const read = (source: string, register: number) => {
    const answer = modbusFrom(source, [3, 0, register, 0, 1]);
    return answer && answer[0] === 3 ? ((answer[2] ?? 0) << 8) | (answer[3] ?? 0) : answer;
  };
  const write = (source: string, register: number, value: number) => {
    const answer = modbusFrom(source, [6, 0, register, value >> 8, value & 0xff]);
    if (answer === null) return "no answer";
    return answer[0] === 6 ? "written" : `exception ${answer[1]}`;
  };
  const addressOf = (device: string) =>
    lab.technicianNs
      .exec("ip", "-4", "-o", "addr", "show", "dev", device)
      .match(/inet (\d+\.\d+\.\d+\.\d+)/)?.[1] ?? "";
  /** The tun device the technicians' host routes the proxy address through. */
  const deviceOf = () =>
    lab.technicianNs.exec("ip", "route", "get", A.proxyAddress).match(/dev (\S+)/)?.[1] ?? "";

  beforeAll(async () => {
    lab = await startLab({ remoteSessionMinutes: 2, technicianCertMinutes: 1 });
    [A] = lab.sites;
    writeFileSync(join(lab.dir, "gateway-acme", "import", "bundle.jws"), A.bundle);
    await eventually(async () => A.agent.log.has(`gateway ${A.gatewayId}, version`), 10_000);
    tina = await lab.technician("tina");
    tom = await lab.technician("tom");
  }, 180_000);

  afterAll(async () => {
    await lab?.stop();
  }, 60_000);

  test("a read-only request on a full service: Tina's reads pass and her writes are refused, while Tom's full session on the same service writes", async () => {
    await A.local("POST", "/connect");
    expect(await eventually(async () => (await state()).state === "online", 20_000, 100)).toBe(
      true,
    );
    const machinePage = await tina.page(`/machines/${A.machineId}`);
    const plc = machinePage.match(/name="service\.([0-9a-f-]{36})"[^>]*>\s*PLC \(Modbus\)/)?.[1];
    if (!plc) throw new Error("no PLC service on the Connect form");
    expect(machinePage).toContain('value="read_only"');
    const only = { servicesChosen: "1", [`service.${plc}`]: "on" };

    const tinaVpn = await lab.openvpn(
      await tina.connect(A.machineId, "ticket 18: read the counters", {
        ...only,
        mode: "read_only",
      }),
    );
    const tinaDevice = deviceOf();
    const tinaAddress = addressOf(tinaDevice);
    const tomVpn = await lab.openvpn(
      await tom.connect(A.machineId, "ticket 18: change the setpoint", only),
      ["--dev", TOM_DEVICE],
    );
    const tomAddress = addressOf(TOM_DEVICE);
    // Both clients are pushed the same route: Tom's source goes through his own tunnel.
    lab.technicianNs.exec("ip", "rule", "add", "from", tomAddress, "lookup", TOM_TABLE);
    lab.technicianNs.exec(
      "ip",
      "route",
      "replace",
      `${A.proxyAddress}/32`,
      "dev",
      TOM_DEVICE,
      "table",
      TOM_TABLE,
    );
    try {
      expect(tinaAddress).not.toBe("");
      expect(tomAddress).not.toBe("");
      expect(tomAddress).not.toBe(tinaAddress);
      expect(await eventually(async () => read(tinaAddress, 5) === 1005, 15_000, 200)).toBe(true);
      expect(await eventually(async () => read(tomAddress, 5) === 1005, 15_000, 200)).toBe(true);

      // Tina asked for read-only: her writes never reach the PLC.
      expect(write(tinaAddress, 5, 4711)).toBe("exception 1");
      expect(read(tinaAddress, 5)).toBe(1005);
      expect(read(tomAddress, 5)).toBe(1005);

      // Tom asked for full access to the same service: his writes do.
      expect(write(tomAddress, 6, 4242)).toBe("written");
      expect(read(tomAddress, 6)).toBe(4242);
      // Tina reads what Tom wrote (reads reach the live machine), and still cannot write.
      expect(read(tinaAddress, 6)).toBe(4242);
      expect(write(tinaAddress, 6, 1)).toBe("exception 1");
      expect(read(tomAddress, 6)).toBe(4242);

      // The gateway's ruleset redirects only Tina's address to the filter.
      const ruleset = A.gatewayNs.exec("nft", "list", "table", "inet", "meetpoint");
      expect(ruleset).toMatch(
        new RegExp(
          `ip saddr (\\{ )?${tinaAddress}( \\})? ip daddr ${A.proxyAddress} tcp dport 502`,
        ),
      );
      expect(ruleset).not.toContain(`ip saddr ${tomAddress} ip daddr`);

      // The platform keeps the mode per session: Tina's session shows read-only, with her refusal.
      const page = async () => await lab.admin.page("/sessions");
      expect(await eventually(async () => (await page()).includes("6 × 2"), 20_000, 500)).toBe(
        true,
      );
      expect(await page()).toContain("read-only (Modbus reads only)");
    } finally {
      lab.technicianNs.exec("ip", "rule", "del", "from", tomAddress, "lookup", TOM_TABLE);
      await tomVpn.stop();
      await tinaVpn.stop();
    }
  }, 120_000);
});
