// The data plane over time and faults, end to end with real openvpn, nftables and conntrack: tunnels
// that live past their configs' windows through every TLS renegotiation, the platform killed with
// kill -9 mid-session, a technician disabled mid-session, and what a tunnel can reach on the
// platform host itself. DESIGN §3; issue "Data plane over hours, days and faults".
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, labSkipReason } from "../src/netns.ts";
import type { PortalClient } from "../src/portal.ts";
import { type Lab, type Site, startLab } from "../src/topology.ts";

const skip = labSkipReason(["openvpn", "nft", "conntrack", "dnsmasq", "chronyd", "dropbear", "ss"]);
const onPostgres = Boolean(process.env.DATABASE_URL);
/** How long traffic is watched across renegotiations (seconds); the issue asks for 5 minutes. */
const RENEGOTIATION_WATCH_S = Number(process.env.MEETPOINT_LAB_RENEGOTIATION_SECONDS ?? 300);

/** Milliseconds until `check` holds (polled every 50 ms); throws after `limitMs`. */
async function timeUntil(check: () => boolean | Promise<boolean>, limitMs: number, what: string) {
  const started = performance.now();
  if (!(await eventually(async () => check(), limitMs, 50)))
    throw new Error(`${what}: not within ${limitMs} ms`);
  return Math.round(performance.now() - started);
}

/** Milliseconds from now until the start of the first probe that fails. */
function stopsWithin(probe: () => boolean, limitMs: number, what: string): number {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    const at = performance.now();
    if (!probe()) return Math.round(at - started);
  }
  throw new Error(`${what}: traffic still passes after ${limitMs} ms`);
}

describe.skipIf(skip !== null)("the data plane over time and faults, in network namespaces", () => {
  let lab: Lab;
  let A: Site;
  let tina: PortalClient;
  const measured: Record<string, number> = {};

  const state = async (site: Site) => (await site.local("GET", "/state")).body;
  const webOf = (site: Site) => lab.fetchFromTechnician(`http://${site.proxyAddress}/`, 800);
  const online = (site: Site) =>
    timeUntil(async () => (await state(site)).state === "online", 30_000, `${site.name} online`);

  async function session(reason: string, options: string[] = []) {
    await A.local("POST", "/connect"); // never lost: see the e2e's armed()
    await online(A);
    const profile = await tina.connect(A.machineId, reason);
    const vpn = await lab.openvpn(profile, options);
    await timeUntil(() => webOf(A) !== null, 10_000, "A reachable");
    return {
      profile,
      vpn,
      /** The technician closes the client: the session ends, and the gateway's channel with it. */
      close: async () => {
        await vpn.stop();
        await timeUntil(async () => (await state(A)).state === "idle", 10_000, "A idle");
      },
    };
  }

  /** Whether a TCP connection from the technician's host to host:port is accepted within 1.5 s. */
  const tcpAccepted = (host: string, port: number) =>
    lab.technicianNs.exec(
      "bun",
      "-e",
      `const s = require("node:net").connect(${port}, ${JSON.stringify(host)}); const t = setTimeout(() => { process.stdout.write("no"); process.exit(0); }, 1500); s.on("connect", () => { process.stdout.write("yes"); process.exit(0); }); s.on("error", () => { clearTimeout(t); process.stdout.write("no"); process.exit(0); });`,
    ) === "yes";

  beforeAll(async () => {
    lab = await startLab({
      technicianCertMinutes: 1,
      gatewayCertMinutes: 1,
      remoteSessionMinutes: 30,
      renegotiateSeconds: 30,
      postgres: onPostgres,
    });
    [A] = lab.sites;
    writeFileSync(join(lab.dir, "gateway-acme", "import", "bundle.jws"), A.bundle);
    await timeUntil(() => A.agent.log.has(`gateway ${A.gatewayId}, version`), 10_000, "import");
    tina = await lab.technician("tina");
  }, 180_000);

  afterAll(async () => {
    if (Object.keys(measured).length)
      console.log("data plane fault measurements (ms):", JSON.stringify(measured));
    await lab?.stop();
  }, 60_000);

  // Renegotiations are OpenVPN's; the database only answers their CLIENT:REAUTH: one run is enough.
  test.skipIf(onPostgres)(
    "regression: tunnels live through every renegotiation past their configs' windows; a spent config opens nothing",
    async () => {
      // The technician's client renegotiates every 20 s, the server every 30 s (both tunnels).
      const { profile, vpn, close } = await session("long job", ["--reneg-sec", "20"]);
      const gatewayBefore = A.agent.log.text.split("Control Channel: TLS").length - 1;
      // One keep-alive connection through both tunnels, a request every half second throughout:
      // a renegotiation that broke either tunnel would fail a request or stall one for seconds.
      const traffic = JSON.parse(
        lab.technicianNs.exec(
          "bun",
          "-e",
          `const until = Date.now() + ${RENEGOTIATION_WATCH_S * 1000}; const r = { requests: 0, errors: [], slowestMs: 0 };
           while (Date.now() < until) {
             const at = Date.now();
             try { const res = await fetch("http://${A.proxyAddress}/", { signal: AbortSignal.timeout(5000) }); await res.text(); r.requests++; }
             catch (e) { r.errors.push(Math.round((until - at) / 1000) + " s before the end: " + e.message); }
             r.slowestMs = Math.max(r.slowestMs, Date.now() - at);
             await Bun.sleep(500);
           }
           process.stdout.write(JSON.stringify(r));`,
        ),
      ) as { requests: number; errors: string[]; slowestMs: number };
      expect(traffic.errors).toEqual([]);
      expect(traffic.requests).toBeGreaterThan(RENEGOTIATION_WATCH_S);
      measured["slowest request across renegotiations"] = traffic.slowestMs;
      // Renegotiations happened, past the 1-minute windows, on both tunnels: each one is a new
      // TLS session ("Control Channel: …" in OpenVPN's log). The logs are read by this process's
      // event loop, which the probe above held: let them catch up.
      const sessions = (text: string) => text.split("Control Channel: TLS").length - 1;
      const expected = {
        technician: Math.floor(RENEGOTIATION_WATCH_S / 20) - 1,
        gateway: Math.floor(RENEGOTIATION_WATCH_S / 30) - 1,
      };
      await eventually(
        async () =>
          sessions(vpn.log.text) - 1 >= expected.technician &&
          sessions(A.agent.log.text) - gatewayBefore >= expected.gateway,
        5000,
      );
      const renegotiations = {
        technician: sessions(vpn.log.text) - 1,
        gateway: sessions(A.agent.log.text) - gatewayBefore,
      };
      measured["renegotiations: technician tunnel"] = renegotiations.technician;
      measured["renegotiations: gateway tunnel"] = renegotiations.gateway;
      expect(renegotiations.technician).toBeGreaterThanOrEqual(expected.technician);
      expect(renegotiations.gateway).toBeGreaterThanOrEqual(expected.gateway);
      expect((await state(A)).state).toBe("online");
      // The same certificate cannot open a second connection: spent, and past its window.
      await expect(lab.openvpn(profile)).rejects.toThrow("AUTH_FAILED");
      await close();
    },
    (RENEGOTIATION_WATCH_S + 120) * 1000,
  );

  test("regression: from inside a tunnel nothing on the platform host answers", async () => {
    const { close } = await session("probe the platform");
    try {
      const ports = [
        ...new Set(
          lab.platformNs
            .exec("ss", "-ltnH")
            .split("\n")
            .map((line) => Number(line.trim().split(/\s+/)[3]?.split(":").at(-1)))
            .filter((port) => port > 0),
        ),
      ];
      expect(ports).toContain(8443);
      expect(ports).toContain(1194);
      // The server's tunnel address is the platform host as seen from the tunnel.
      const reachable = ports.filter((port) => tcpAccepted("100.127.0.1", port));
      expect(reachable).toEqual([]);
      expect(webOf(A)).not.toBeNull();
    } finally {
      await close();
    }
  }, 120_000);

  test("regression: a disabled technician's traffic stops within a second; their configs open nothing", async () => {
    const { vpn } = await session("before disable");
    const spare = await tina.connect(A.machineId, "downloaded, not used");
    const users = await lab.admin.page("/users");
    const tinaId = users.match(/href="\/users\/([0-9a-f-]{36})"[^>]*>tina@lab</)?.[1];
    expect(tinaId).toBeDefined();
    await lab.admin.page(`/users/${tinaId}`);
    const disabled = lab.admin.go(`/users/${tinaId}/disable`, {});
    const stopped = stopsWithin(() => webOf(A) !== null, 5000, "disabled technician");
    await disabled;
    measured["disable→no traffic"] = stopped;
    expect(stopped).toBeLessThanOrEqual(2000);
    await vpn.stop();
    // Refused: its certificate was revoked with the session (the TLS handshake fails).
    await expect(lab.openvpn(spare)).rejects.toThrow(/AUTH_FAILED|did not connect/);
    await lab.admin.page(`/users/${tinaId}`);
    await lab.admin.go(`/users/${tinaId}/enable`, {});
    tina = await lab.technician("tina");
  }, 120_000);

  test("regression: kill -9 of the platform mid-session: no packet passes within a second, nothing survives", async () => {
    const { vpn } = await session("before the crash");
    await lab.killPlatform();
    const stopped = stopsWithin(() => webOf(A) !== null, 5000, "platform killed");
    measured["kill -9→no traffic"] = stopped;
    expect(stopped).toBeLessThanOrEqual(1000);
    // No OpenVPN server of the dead platform runs on.
    expect(
      await eventually(
        // The brackets keep pgrep from finding its own shell.
        async () =>
          lab.platformNs.exec("sh", "-c", "pgrep -f 'server[0].conf' || true").trim() === "",
        2000,
      ),
    ).toBe(true);
    await vpn.stop();
    await lab.restartPlatform();
    // At start the platform forgot every tunnel flow the dead one left established.
    expect(
      lab.platformNs.exec(
        "conntrack",
        "-L",
        "--orig-src",
        "100.127.0.0",
        "--mask-src",
        "255.255.0.0",
      ),
    ).not.toContain("ESTABLISHED");
    // The gateway comes back by itself; a technician gets in again.
    await online(A);
    tina = await lab.technician("tina");
    const again = await session("after the crash");
    await again.close();
  }, 180_000);
});
