// A plant PC as a workstation, end to end with real packets: the plant's operator presses Go
// online in the portal, the PC's stock openvpn client connects with the file; a technician signed
// in at the lab OpenID provider reaches the PC's enabled service at its proxy address only; Go
// offline cuts within a second; neither file works a second time.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { labSkipReason } from "../src/netns.ts";
import type { PortalClient } from "../src/portal.ts";
import { type Lab, startLab } from "../src/topology.ts";
import { startWorkstation, type Workstation } from "../src/workstation.ts";

const skip = labSkipReason(["openvpn", "nft", "conntrack", "dnsmasq", "chronyd", "dropbear"]);

describe.skipIf(skip !== null)("a workstation in the lab", () => {
  let lab: Lab;
  let pc: Workstation;
  let tina: PortalClient;
  let technicianProfile: string;
  let workstationProfile: string;
  const service = (port: number, timeoutMs?: number) =>
    lab.fetchFromTechnician(`http://${pc.proxyAddress}:${port}/`, timeoutMs);

  beforeAll(async () => {
    lab = await startLab({ postgres: Boolean(process.env.DATABASE_URL) });
    pc = await startWorkstation(lab, lab.sites[0]);
    tina = await lab.technician("tina");
  }, 180_000);

  afterAll(async () => {
    pc?.stop();
    await lab?.stop();
  }, 60_000);

  test("Go online: the PC connects with its one-time file; a copy of that file is refused", async () => {
    workstationProfile = await pc.goOnline();
    const vpn = await pc.openvpn(workstationProfile);
    expect(vpn.connected).toBe(true);
    expect(await pc.operator.page(`/gateways/${pc.gatewayId}`)).toContain("online");
    const copy = await pc.openvpn(workstationProfile);
    expect(copy.connected).toBe(false);
    await copy.stop();
  }, 60_000);

  test("a technician reaches the enabled service at the PC's proxy address, and nothing else", async () => {
    technicianProfile = await tina.connect(pc.machineId, "HMI update, ticket 815");
    await lab.openvpn(technicianProfile);
    expect(service(5900)).toBe("workstation 5900");
    expect(service(3389)).toBeNull(); // a service that is not enabled
    expect(lab.fetchFromTechnician(`http://${lab.sites[0].proxyAddress}/`)).toBeNull(); // ACME's press: no session to it
    // The operator sees who is connected and why.
    const sessions = await pc.operator.page("/sessions");
    expect(sessions).toContain("HMI update, ticket 815");
  }, 60_000);

  test("Go offline in the portal stops traffic within a second; the technician's file is spent", async () => {
    expect(service(5900)).toBe("workstation 5900");
    const started = performance.now();
    await pc.goOffline();
    let stoppedAfter = Number.POSITIVE_INFINITY;
    while (performance.now() - started < 5000) {
      const at = performance.now();
      if (service(5900, 300) === null) {
        stoppedAfter = Math.round(at - started);
        break;
      }
    }
    console.log(`workstation Go offline → no traffic after ${stoppedAfter} ms`);
    expect(stoppedAfter).toBeLessThan(1000);
    await expect(lab.openvpn(technicianProfile)).rejects.toThrow();
    // Only a new Go online brings it back: the old file stays spent.
    expect((await pc.openvpn(workstationProfile)).connected).toBe(false);
  }, 60_000);
});
