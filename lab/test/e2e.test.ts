// The reference design's promises, end to end with real packets: two factories with the same LAN
// behind their gateways, a technician signing in at the lab OpenID provider and connecting with
// the stock openvpn client, and every way a remote session ends. DESIGN §2, §8.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, labSkipReason } from "../src/netns.ts";
import type { PortalClient } from "../src/portal.ts";
import { type Lab, type Site, startLab } from "../src/topology.ts";

const skip = labSkipReason(["openvpn", "nft", "conntrack", "dnsmasq", "chronyd", "dropbear"]);
const onPostgres = Boolean(process.env.DATABASE_URL);

/**
 * Milliseconds from now until the start of the first probe that fails — the moment after which
 * nothing gets through (a dropped probe itself waits for its timeout, which must not count).
 */
async function stopsWithin(probe: () => boolean, limitMs: number, what: string) {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    const at = performance.now();
    if (!probe()) return Math.round(at - started);
  }
  throw new Error(`${what}: traffic still passes after ${limitMs} ms`);
}

/** Milliseconds until `check` holds (polled every 50 ms); throws after `limitMs`. */
async function timeUntil(check: () => boolean | Promise<boolean>, limitMs: number, what: string) {
  const started = performance.now();
  if (!(await eventually(async () => check(), limitMs, 50)))
    throw new Error(`${what}: not within ${limitMs} ms`);
  return Math.round(performance.now() - started);
}

describe.skipIf(skip !== null)("the whole system in network namespaces", () => {
  let lab: Lab;
  let A: Site;
  let B: Site;
  let tina: PortalClient;
  const measured: Record<string, number> = {};

  const state = async (site: Site) => (await site.local("GET", "/state")).body;
  const online = async (site: Site) => {
    try {
      return await timeUntil(
        async () => (await state(site)).state === "online",
        20_000,
        `${site.name} online`,
      );
    } catch (error) {
      console.log(
        `${site.name} agent:\n${site.agent.log.text.slice(-3000)}\nplatform:\n${lab.platform.log.text.slice(-3000)}`,
      );
      throw error;
    }
  };
  const webOf = (site: Site) => lab.fetchFromTechnician(`http://${site.proxyAddress}/`);

  /**
   * The operator's Connect where the gateway is idle: a technician closing the client ends the
   * session and the gateway's data channel with it (only the operator re-arms).
   */
  async function armed(site: Site) {
    // Always pressed: an agent that still shows online while the platform's close is in flight
    // asks the platform first, so this Connect is never lost (and is a no-op when truly online).
    await site.local("POST", "/connect");
    await online(site);
  }

  async function sessionFor(site: Site, reason: string) {
    await armed(site);
    const profile = await tina.connect(site.machineId, reason);
    const vpn = await lab.openvpn(profile);
    return {
      profile,
      vpn,
      /** The technician closes the client: the session ends, and the gateway's channel with it. */
      close: async () => {
        await vpn.stop();
        await timeUntil(
          async () => (await state(site)).state === "idle",
          10_000,
          `${site.name} idle`,
        );
      },
    };
  }

  beforeAll(async () => {
    // The platform runs on PostgreSQL (a server of its own in its namespace) in the test run on
    // PostgreSQL, on embedded PGlite otherwise.
    lab = await startLab({
      remoteSessionMinutes: 1,
      technicianCertMinutes: 1,
      postgres: onPostgres,
    });
    [A, B] = lab.sites;
  }, 180_000);

  afterAll(async () => {
    if (measured && Object.keys(measured).length)
      console.log("lab measurements (ms):", JSON.stringify(measured));
    await lab?.stop();
  }, 60_000);

  test("1. both gateways enroll from their bundles; the operator's Connect brings each online", async () => {
    for (const site of [A, B]) {
      writeFileSync(
        join(lab.dir, `gateway-${site.name.toLowerCase().slice(0, 4)}`, "import", "bundle.jws"),
        site.bundle,
      );
      await timeUntil(
        async () => site.agent.log.has(`gateway ${site.gatewayId}, version`),
        10_000,
        "import",
      );
      const started = performance.now();
      expect((await site.local("POST", "/connect")).status).toBe(200);
      await online(site);
      measured[`connect→online ${site.name}`] = Math.round(performance.now() - started);
      expect(await lab.admin.page(`/machines/${site.machineId}`)).toContain(
        "online — the operator allows access",
      );
    }
  }, 60_000);

  test("2. a technician signs in at the lab provider and reaches site A's web UI and PLC", async () => {
    tina = await lab.technician("tina");
    const downloaded = performance.now();
    const { close } = await sessionFor(A, "ticket 4711: spindle alarm");
    measured["config download→first byte"] = await timeUntil(
      () => webOf(A) !== null,
      10_000,
      "first byte",
    );
    measured["config download→first byte"] = Math.round(performance.now() - downloaded);
    expect(webOf(A)).toBe("machine ACME web UI\n");
    expect(lab.modbusFromTechnician(A.proxyAddress)).toBe("E".charCodeAt(0));
    expect((await state(A)).remoteSessionActive).toBe(true);
    await close();
  }, 60_000);

  test("3. nothing else: a disabled port, the other site's machine with the same address, the gateway", async () => {
    const { close } = await sessionFor(A, "ticket 4712");
    try {
      await timeUntil(() => webOf(A) !== null, 10_000, "A reachable");
      // SSH answers on the machine's LAN, but the service is not enabled.
      expect(
        A.machineNs.exec(
          "bun",
          "-e",
          `const s = require("node:net").connect(22, "192.168.0.10"); s.on("data", (d) => { process.stdout.write(d.toString().slice(0, 7)); process.exit(0); });`,
        ),
      ).toBe("SSH-2.0");
      expect(lab.bannerFromTechnician(A.proxyAddress, 22)).toBeNull();
      expect(webOf(B)).toBeNull();
      expect(lab.modbusFromTechnician(B.proxyAddress)).toBeNull();
      const gatewayTunnel = String((await state(A)).tunnelAddress);
      expect(
        A.gatewayNs.exec(
          "bun",
          "-e",
          `const r = await fetch("https://${gatewayTunnel}:8443/healthz", { tls: { rejectUnauthorized: false } }); process.stdout.write(String(r.status));`,
        ),
      ).toBe("200");
      expect(lab.fetchFromTechnician(`https://${gatewayTunnel}:8443/healthz`)).toBeNull();
    } finally {
      await close();
    }
    // Site B, in its own session: its own proxy address, not A's.
    const other = await sessionFor(B, "ticket 9001 at BOLT");
    try {
      await timeUntil(() => webOf(B) !== null, 10_000, "B reachable");
      expect(webOf(B)).toBe("machine BOLT web UI\n");
      expect(lab.modbusFromTechnician(B.proxyAddress)).toBe("T".charCodeAt(0));
      expect(webOf(A)).toBeNull();
    } finally {
      await other.close();
    }
  }, 90_000);

  test("4. every disconnect stops traffic within seconds; after technician or admin only the operator re-arms", async () => {
    // The operator's Disconnect.
    let session = await sessionFor(A, "ticket 4713");
    await timeUntil(() => webOf(A) !== null, 10_000, "A reachable");
    await A.local("POST", "/disconnect");
    measured["operator disconnect→no traffic"] = await stopsWithin(
      () => webOf(A) !== null,
      5000,
      "operator disconnect",
    );
    await session.vpn.stop();

    // The technician's Disconnect in the portal: the gateway goes idle, Connect waits for the operator.
    session = await sessionFor(A, "ticket 4714");
    await timeUntil(() => webOf(A) !== null, 10_000, "A reachable");
    await tina.disconnectNewestSession();
    measured["technician disconnect→no traffic"] = await stopsWithin(
      () => webOf(A) !== null,
      5000,
      "technician disconnect",
    );
    await session.close();
    await expect(tina.connect(A.machineId, "again")).rejects.toThrow(
      "operator at the machine has to press Connect",
    );

    // An admin's Terminate, the same.
    session = await sessionFor(A, "ticket 4715");
    await timeUntil(() => webOf(A) !== null, 10_000, "A reachable");
    await lab.admin.disconnectNewestSession();
    measured["admin terminate→no traffic"] = await stopsWithin(
      () => webOf(A) !== null,
      5000,
      "admin terminate",
    );
    await session.close();
    await expect(tina.connect(A.machineId, "again")).rejects.toThrow(
      "operator at the machine has to press Connect",
    );
  }, 120_000);

  test("5. a used config is refused, an unused one expires, and the session's end time cuts traffic", async () => {
    const used = await sessionFor(A, "ticket 4716");
    await timeUntil(() => webOf(A) !== null, 10_000, "A reachable");
    await armed(B);
    const unused = await tina.connect(B.machineId, "ticket 9002, never used");
    await used.close();
    // The same file again: refused — its certificate was revoked when the session ended.
    await expect(lab.openvpn(used.profile)).rejects.toThrow("did not connect");
    const current = await sessionFor(A, "ticket 4717");
    await timeUntil(() => webOf(A) !== null, 10_000, "A reachable");
    // One minute later the session has reached its end, and the unused config its expiry.
    const ended = await stopsWithin(() => webOf(A) !== null, 80_000, "end time");
    expect(ended).toBeGreaterThan(30_000);
    await current.vpn.stop();
    await expect(lab.openvpn(unused)).rejects.toThrow("did not connect");
  }, 240_000);

  test("6a. a platform restart ends sessions (fail closed); the gateways come back by themselves", async () => {
    const session = await sessionFor(A, "ticket 4718");
    await timeUntil(() => webOf(A) !== null, 10_000, "A reachable");
    await lab.restartPlatform();
    expect(webOf(A)).toBeNull();
    await session.vpn.stop();
    measured["platform restart→gateway online"] = await timeUntil(
      async () =>
        (await lab.admin.page(`/machines/${A.machineId}`).catch(() => "")).includes(
          "online — the operator",
        ),
      60_000,
      "A back online",
    );
    const again = await sessionFor(A, "ticket 4719");
    await timeUntil(() => webOf(A) !== null, 10_000, "A reachable again");
    await again.close();
  }, 180_000);

  test("6b. the gateway's WAN cut for 30 s: shown, and recovered without anyone's help", async () => {
    await armed(A);
    const reachable = async () =>
      ((await state(A)).platform as { reachable: boolean } | null)?.reachable;
    // The cable is pulled on the WAN side: the gateway keeps its addresses and routes.
    lab.wan.exec("ip", "link", "set", A.wanPeer, "down");
    const cut = performance.now();
    try {
      await timeUntil(async () => (await reachable()) === false, 20_000, "cut seen");
      const rest = 30_000 - (performance.now() - cut);
      if (rest > 0) await Bun.sleep(rest);
    } finally {
      lab.wan.exec("ip", "link", "set", A.wanPeer, "up");
    }
    try {
      measured["WAN back→gateway online"] = await timeUntil(
        async () => (await state(A)).state === "online" && (await reachable()) === true,
        120_000,
        "A recovered",
      );
    } catch (error) {
      console.log(A.agent.log.text.slice(-4000));
      throw error;
    }
    const session = await sessionFor(A, "ticket 4720 after the cut");
    await timeUntil(() => webOf(A) !== null, 10_000, "A reachable after the cut");
    await session.close();
  }, 240_000);

  // Only where the platform runs on PostgreSQL (the test run on PostgreSQL): PGlite lives inside
  // the platform's process and cannot be stopped apart from it.
  if (onPostgres)
    test("6c. PostgreSQL stopped: refusals with a plain reason, everything cut; back, and the records complete", async () => {
      const session = await sessionFor(A, "ticket 4721 before the database goes");
      await timeUntil(() => webOf(A) !== null, 10_000, "A reachable");
      await lab.stopPostgres();
      try {
        // New requests are refused with words, not a stack trace.
        const refused = await lab.admin.request("GET", `/machines/${A.machineId}`);
        expect(refused.status).toBe(503);
        expect(refused.html).toContain("cannot reach its database");
        // Within seconds everything is cut: no grant, no flow.
        measured["database lost→no traffic"] = await stopsWithin(
          () => webOf(A) !== null,
          15_000,
          "fail closed",
        );
        await timeUntil(
          async () => lab.platform.log.has("all remote access cut (fail closed)"),
          5000,
          "cut logged",
        );
      } finally {
        await lab.startPostgres();
      }
      await timeUntil(
        async () => lab.platform.log.has("recorded as ended"),
        20_000,
        "records completed",
      );
      await session.vpn.stop();
      const again = await sessionFor(A, "ticket 4722 after the database is back");
      await timeUntil(() => webOf(A) !== null, 10_000, "A reachable again");
      await again.close();
    }, 180_000);

  test("7. the audit log verifies and holds every step, attributed", async () => {
    const verify = await lab.platformCli(["audit", "verify"]);
    expect(verify.code).toBe(0);
    const exported = await lab.platformCli(["audit", "export"]);
    const entries = exported.output
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map(
        (l) =>
          JSON.parse(l) as {
            action: string;
            actorName: string;
            result: string;
            detail: Record<string, unknown>;
          },
      );
    const actions = new Set(entries.map((e) => e.action));
    for (const action of [
      "identity_provider.create",
      "user.provision",
      "sign_in",
      "gateway_session.request",
      "gateway_session.close",
      "remote_session.request",
      "remote_session.active",
      "remote_session.end",
    ])
      expect(actions).toContain(action);
    const ends = entries
      .filter((e) => e.action === "remote_session.end")
      .map((e) => e.detail.reason);
    const reasons = [
      "operator",
      "technician",
      "admin",
      "expiry",
      "config_unused",
      "platform_shutdown",
    ];
    if (onPostgres) reasons.push("database_lost");
    for (const reason of reasons) expect(ends).toContain(reason);
    const requests = entries.filter((e) => e.action === "remote_session.request");
    expect(requests.every((e) => e.actorName === "tina@lab")).toBe(true);
  }, 60_000);
});
