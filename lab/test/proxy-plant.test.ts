// A plant behind an HTTP proxy, end to end: a real tinyproxy on the WAN, a gateway namespace with
// no route to the platform. Enrollment, the operator's Connect and a technician's session (whose
// .ovpn names the proxy too) all work through it; with the proxy stopped, the diagnostics and the
// operator UI say that the proxy is what failed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, labSkipReason } from "../src/netns.ts";
import { PortalClient } from "../src/portal.ts";
import {
  PROXY_ADDRESS,
  PROXY_PORT,
  type ProxySite,
  routeFrom,
  startProxySite,
} from "../src/proxy-site.ts";
import { type Lab, startLab } from "../src/topology.ts";

const skip = labSkipReason([
  "openvpn",
  "nft",
  "conntrack",
  "dnsmasq",
  "chronyd",
  "dropbear",
  "tinyproxy",
]);
const PROXY = `${PROXY_ADDRESS}:${PROXY_PORT}`;

describe.skipIf(skip !== null)("a plant behind an HTTP proxy (tinyproxy on the WAN)", () => {
  let lab: Lab;
  let site: ProxySite;

  const state = async () => (await site.local("GET", "/state")).body;
  const until = async (check: () => Promise<boolean>, ms: number, what: string) => {
    if (!(await eventually(check, ms, 100)))
      throw new Error(
        `${what}: not within ${ms} ms\nagent:\n${site.agent.log.text.slice(-3000)}\nproxy:\n${site.proxy?.log.text.slice(-2000)}`,
      );
  };

  beforeAll(async () => {
    lab = await startLab({ remoteSessionMinutes: 5 });
    const providerId =
      (await lab.admin.page("/identity-providers")).match(
        /identity-providers\/([0-9a-f-]{36})/,
      )?.[1] ?? "";
    site = await startProxySite(
      lab.admin,
      { name: "PROX", group: "acme-service", providerId },
      { wan: lab.wan, dir: lab.dir, technicianNetwork: "198.18.142.0/30" },
    );
  }, 240_000);

  afterAll(async () => {
    await site?.destroy();
    await lab?.stop();
  }, 60_000);

  test("the gateway has no route to the platform, only its link to the proxy", () => {
    expect(routeFrom(site.gatewayNs, "198.18.141.2")).toBe(false);
    expect(routeFrom(site.gatewayNs, PROXY_ADDRESS)).toBe(true);
  });

  test("enrollment and the operator's Connect go through the proxy", async () => {
    writeFileSync(join(lab.dir, "gateway-prox", "import", "bundle.jws"), site.bundle);
    await until(
      async () => site.agent.log.has(`gateway ${site.gatewayId}, version`),
      15_000,
      "import",
    );
    // The heartbeat reaches the platform through CONNECT: the gateway page shows it.
    await until(
      async () => site.proxy?.log.has("CONNECT platform.lab.test:8443") ?? false,
      15_000,
      "control channel through the proxy",
    );
    const pressed = performance.now();
    expect((await site.local("POST", "/connect")).status).toBe(200);
    await until(async () => (await state()).state === "online", 30_000, "online");
    console.log(
      `lab measurement: operator Connect → online through the proxy: ${Math.round(performance.now() - pressed)} ms`,
    );
    // OpenVPN went through the proxy too (http-proxy, over TCP).
    expect(site.proxy?.log.has("CONNECT platform.lab.test:1194")).toBe(true);
    expect(await lab.admin.page(`/machines/${site.machineId}`)).toContain(
      "online — the operator allows access",
    );
  }, 90_000);

  test("a technician whose .ovpn names the proxy reaches the machine through both tunnels", async () => {
    const tina = await lab.technician("tina");
    const profile = await tina.connect(site.machineId, "ticket 77: behind the proxy", {
      proxyHost: PROXY_ADDRESS,
      proxyPort: String(PROXY_PORT),
    });
    expect(profile).toContain(`http-proxy ${PROXY_ADDRESS} ${PROXY_PORT}\n`);
    const vpn = await lab.openvpn(profile);
    try {
      await until(
        async () => lab.fetchFromTechnician(`http://${site.proxyAddress}/`) !== null,
        15_000,
        "machine reachable",
      );
      expect(lab.fetchFromTechnician(`http://${site.proxyAddress}/`)).toBe("machine PROX web UI\n");
      expect(
        vpn.log.has(
          `Attempting to establish TCP connection with [AF_INET]${PROXY_ADDRESS}:${PROXY_PORT}`,
        ),
      ).toBe(true);
    } finally {
      await vpn.stop();
    }
  }, 90_000);

  test("the proxy stopped: the operator UI and the diagnostics name the proxy", async () => {
    // The technician's close ended the gateway's data channel too: it is idle, as the platform said.
    await until(async () => (await state()).state === "idle", 20_000, "idle");
    await site.stopProxy();
    try {
      // The operator presses Connect again (the technician's close idled the gateway).
      await site.local("POST", "/connect");
      await until(
        async () => String((await state()).lastError ?? "").includes(`the proxy ${PROXY}`),
        30_000,
        "the UI names the proxy",
      );
      expect(String((await state()).lastError)).toContain(
        `the proxy ${PROXY} refused the connection`,
      );
      const operator = new PortalClient(site.operatorUrl, {});
      await operator.request("POST", "/sign-in", { password: "Operator-PROX-pw" });
      const report = await operator.page("/diagnostics.txt");
      expect(report).toContain(`the proxy ${PROXY} refused the connection`);
      expect(report).not.toContain("the platform platform.lab.test refused");
      const page = await operator.page("/proxy");
      expect(page).toContain(`${PROXY}`);
      expect(page).toContain("set by the environment");
    } finally {
      await site.local("POST", "/disconnect");
      await site.startProxy();
    }
  }, 90_000);
});
