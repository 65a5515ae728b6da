// The connect gateway against a running platform, all real: the platform (HTTPS + OpenVPN +
// nftables) in one namespace, the agent in a gateway namespace between a WAN link and a machine
// LAN, a technician with the stock openvpn client. Enroll, Connect, online, reach a machine,
// Disconnect, WAN cut, platform restart, technician disconnect, agent restart.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import {
  eventually,
  labSkipReason,
  link,
  linkToHost,
  Netns,
  OutputLog,
  operatorLink,
  PortalClient,
} from "../src/index.ts";

const skip = labSkipReason(["openvpn", "nft", "conntrack"]);
const ROOT = join(import.meta.dir, "../..");
const PORTAL = "https://198.18.230.2:8443";
const OPERATOR = "https://198.18.233.2:8443";
const PLATFORM_WAN = "198.18.231.1";

describe.skipIf(skip !== null)("connect gateway with a running platform", () => {
  let dir: string;
  let platformNs: Netns;
  let gatewayNs: Netns;
  let machineNs: Netns;
  let technicianNs: Netns;
  let platform: { child: Subprocess<"ignore", "pipe", "pipe">; log: OutputLog };
  let agent: { child: Subprocess<"ignore", "pipe", "pipe">; log: OutputLog };
  let admin: PortalClient;
  let tech: PortalClient;
  let gateway: { id: string; bundle: string };
  let machineId: string;
  let proxyAddress: string;
  let wanDevice: string;
  let lanDevice: string;
  let apiToken = "";
  const operator = new PortalClient(OPERATOR);

  function startPlatform() {
    const child = platformNs.spawn(["bun", join(ROOT, "platform/src/main.ts")], {
      env: {
        DATABASE_URL: "",
        MEETPOINT_DATA_DIR: join(dir, "platform"),
        MEETPOINT_PUBLIC_URL: `https://${PLATFORM_WAN}:8443`,
        MEETPOINT_HTTPS_PORT: "8443",
        MEETPOINT_HTTP_PORT: "0",
        MEETPOINT_LISTEN_ADDRESS: "0.0.0.0",
        MEETPOINT_VPN_LISTEN: "tcp:1194",
        MEETPOINT_KEK: "22".repeat(32),
      },
    });
    platform = { child, log: new OutputLog(child) };
  }

  function startAgent() {
    const child = gatewayNs.spawn(["bun", join(ROOT, "connect-container/src/main.ts")], {
      env: {
        MEETPOINT_DATA_DIR: join(dir, "gateway"),
        MEETPOINT_WAN_INTERFACE: wanDevice,
        MEETPOINT_LAN_INTERFACE: lanDevice,
        MEETPOINT_UI_HTTPS_PORT: "8443",
        MEETPOINT_UI_HTTP_PORT: "8080",
        MEETPOINT_NTP_SERVERS: PLATFORM_WAN,
        MEETPOINT_HEARTBEAT_SECONDS: "2",
      },
    });
    agent = { child, log: new OutputLog(child) };
  }

  async function waitForLog(log: OutputLog, text: string, ms = 30_000) {
    const ok = await eventually(async () => log.has(text), ms, 100);
    if (!ok) throw new Error(`"${text}" did not appear:\n${log.text.slice(-3000)}`);
  }

  /** The agent's state through its local consent API (as a machine HMI would read it). */
  async function local(method: "GET" | "POST", path: string) {
    const response = await fetch(`${OPERATOR}/api/local/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${apiToken}` },
      tls: { rejectUnauthorized: false },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async function waitForState(state: string, ms = 20_000): Promise<number> {
    const started = performance.now();
    const ok = await eventually(
      async () => (await local("GET", "/state")).body.state === state,
      ms,
      50,
    );
    if (!ok)
      throw new Error(
        `agent not ${state}: ${JSON.stringify((await local("GET", "/state")).body)}\n${agent.log.text.slice(-2000)}`,
      );
    return performance.now() - started;
  }

  /**
   * Waits until the agent has had `count` heartbeat answers from the platform after `since`: by
   * then whatever the platform would have it do (resume a data channel, run a command) reached it.
   */
  async function heartbeatsAfter(since: Date, count = 2, ms = 20_000): Promise<void> {
    const answers = new Set<string>();
    const ok = await eventually(
      async () => {
        const platform = (await local("GET", "/state")).body.platform as {
          reachable: boolean;
          at: string;
        } | null;
        if (platform?.reachable && Date.parse(platform.at) > since.getTime())
          answers.add(platform.at);
        return answers.size >= count;
      },
      ms,
      100,
    );
    if (!ok)
      throw new Error(
        `the agent had ${answers.size} heartbeat answers within ${ms} ms:\n${agent.log.text.slice(-2000)}`,
      );
  }

  /** An HTTP request from the technician's host to the machine's proxy address. */
  function reaches(port: number): boolean {
    const script = `try { const r = await fetch("http://${proxyAddress}:${port}/", { signal: AbortSignal.timeout(1500) }); console.log(await r.text()); } catch { console.log("unreachable"); }`;
    return technicianNs.exec("bun", "-e", script).includes(`machine ${port}`);
  }

  async function technicianTunnel(reason: string) {
    const profile = await tech.connect(machineId, reason);
    const file = join(dir, `tech-${crypto.randomUUID()}.ovpn`);
    writeFileSync(file, profile, { mode: 0o600 });
    const child = technicianNs.spawn(["openvpn", "--config", file, "--verb", "3"]);
    const log = new OutputLog(child);
    await waitForLog(log, "Initialization Sequence Completed", 20_000);
    return { child, log };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "meetpoint-gwlab-"));
    platformNs = Netns.create("gl-plat");
    gatewayNs = Netns.create("gl-gw");
    machineNs = Netns.create("gl-lan");
    technicianNs = Netns.create("gl-tech");
    linkToHost(platformNs, "198.18.230.1/30", "198.18.230.2/30");
    wanDevice = link(platformNs, `${PLATFORM_WAN}/30`, gatewayNs, "198.18.231.2/30").bName;
    gatewayNs.exec("ip", "route", "add", "default", "via", PLATFORM_WAN);
    lanDevice = link(gatewayNs, "192.168.0.1/24", machineNs, "192.168.0.10/24").aName;
    machineNs.exec("ip", "route", "add", "default", "via", "192.168.0.1");
    link(platformNs, "198.18.232.1/30", technicianNs, "198.18.232.2/30");
    technicianNs.exec("ip", "route", "add", `${PLATFORM_WAN}/32`, "via", "198.18.232.1");
    // The operator's terminal, on the LAN (only the LAN side reaches the gateway itself).
    operatorLink(machineNs, "198.18.233.1/30", "198.18.233.2/30", "192.168.0.1");
    for (const port of [80, 8080]) {
      machineNs.spawn([
        "bun",
        "-e",
        `Bun.serve({ hostname: "192.168.0.10", port: ${port}, fetch: () => new Response("machine ${port}") })`,
      ]);
    }

    startPlatform();
    await waitForLog(platform.log, "You will choose your own password");
    const oneTime = platform.log.text.match(/one-time password\n\n {4}(\S+)/)?.[1] ?? "";
    admin = new PortalClient(PORTAL);
    await admin.firstSignIn("admin", oneTime);
    const customer = await admin.createCustomer("ACME");
    const site = await admin.createSite(customer, "Plant 1");
    gateway = await admin.createGateway(site, "Hall 1");
    machineId = await admin.createMachine(gateway.id, "Press", "192.168.0.10");
    await admin.createService(machineId, {
      name: "Web UI",
      protocol: "tcp",
      port: 80,
      enabled: true,
    });
    await admin.createService(machineId, {
      name: "Engineering",
      protocol: "tcp",
      port: 8080,
      enabled: false,
    });
    proxyAddress =
      (await admin.page(`/machines/${machineId}`)).match(/(100\.6[4-9]\.\d+\.\d+)/)?.[1] ?? "";
    const techPassword = await admin.createUser("tech", "Tina Technician", "technician", customer);
    tech = new PortalClient(PORTAL);
    await tech.firstSignIn("tech", techPassword);

    startAgent();
    await waitForLog(agent.log, "operator UI on https://");
  }, 120_000);

  afterAll(async () => {
    agent?.child.kill("SIGTERM");
    platform?.child.kill("SIGTERM");
    await Promise.all([agent?.child.exited, platform?.child.exited]);
    for (const ns of [technicianNs, machineNs, gatewayNs, platformNs]) ns?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  test("the operator signs in, must replace the initial password, and creates the local API token", async () => {
    expect((await operator.request("POST", "/sign-in", { password: "wrong" })).status).toBe(401);
    const first = await operator.request("POST", "/sign-in", { password: "meetpoint" });
    expect(first.location).toBe(`${OPERATOR}/password`);
    expect((await operator.page("/")).includes("Choose your own password")).toBe(true);
    const reused = await operator.request("POST", "/password", {
      current: "meetpoint",
      next: "meetpoint",
    });
    expect(reused.status).toBe(400);
    const changed = await operator.request("POST", "/password", {
      current: "meetpoint",
      next: "Operator-Passw0rd",
    });
    expect(changed.location).toBe(`${OPERATOR}/`);
    await operator.page("/settings");
    const created = await operator.go("/settings/api-token", {});
    apiToken = created.html.match(/id="api-token">([A-Za-z0-9_-]+)</)?.[1] ?? "";
    expect(apiToken.length).toBeGreaterThan(40);
    expect((await local("GET", "/state")).body).toMatchObject({ state: "idle" });
  });

  test("enrollment from the import directory: symlinks and tampered bundles are ignored or rejected", async () => {
    const importDir = join(dir, "gateway", "import");
    mkdirSync(importDir, { recursive: true });
    symlinkSync("/etc/shadow", join(importDir, "evil.jws"));
    const [head, payload, signature] = gateway.bundle.trim().split(".");
    const tampered = `${head}.${payload}.${signature?.startsWith("A") ? "B" : "A"}${signature?.slice(1)}`;
    writeFileSync(join(importDir, "tampered.jws"), tampered);
    await waitForLog(agent.log, "tampered.jws) rejected: bad signature");
    await waitForLog(agent.log, '"evil.jws" ignored: a symbolic link');
    expect((await local("POST", "/connect")).status).toBe(409);
    writeFileSync(join(importDir, "hall-1.jws"), gateway.bundle);
    await waitForLog(agent.log, `gateway ${gateway.id}, version 1`);
    expect(await operator.page("/enrollment")).toContain(gateway.id);
  });

  test("operator Connect: online at the gateway and in the portal", async () => {
    const started = performance.now();
    expect((await local("POST", "/connect")).status).toBe(200);
    await waitForState("online");
    console.log(`operator Connect → online: ${Math.round(performance.now() - started)} ms`);
    const page = await tech.page(`/machines/${machineId}`);
    expect(page).toContain("online — the operator allows access");
  });

  test("the diagnostics report checks the real path to the platform, line by line", async () => {
    const report = await operator.page("/diagnostics.txt");
    expect(report).toContain(`Meetpoint gateway diagnostics — ${gateway.id}`);
    expect(report).toMatch(
      new RegExp(`\\[OK  \\] WAN interface ${wanDevice} +UP, 198\\.18\\.231\\.2/30`),
    );
    expect(report).toContain(`[OK  ] Route to ${PLATFORM_WAN}`);
    expect(report).toContain(`[OK  ] TCP ${PLATFORM_WAN}:8443`);
    expect(report).toContain(`[OK  ] TLS ${PLATFORM_WAN}:8443`);
    expect(report).toContain("pinned CA verified");
    expect(report).toContain("[OK  ] Clock against the platform");
    expect(report).toContain("[OK  ] API authentication");
    // Nothing answers NTP in this lab: said plainly, with a hint.
    expect(report).toContain(`[WARN] NTP ${PLATFORM_WAN}`);
    expect(report).toContain("[FAIL] NTP ");
    expect(report).toContain("hint: Certificates are valid for minutes");
  });

  test("the technician reaches the enabled service through the gateway's NAT, nothing else", async () => {
    const tunnel = await technicianTunnel("ticket 4711");
    try {
      expect(await eventually(async () => reaches(80), 5000)).toBe(true);
      expect(reaches(8080)).toBe(false);
      const state = (await local("GET", "/state")).body;
      expect(state.remoteSessionActive).toBe(true);
      expect(await operator.page("/")).toContain("Tina Technician");
      expect(operator.html).toContain("ticket 4711");

      // The operator's Disconnect cuts it.
      const started = performance.now();
      await local("POST", "/disconnect");
      expect(await eventually(async () => !reaches(80), 5000, 50)).toBe(true);
      console.log(
        `operator Disconnect → no traffic: ${Math.round(performance.now() - started)} ms`,
      );
      expect((await local("GET", "/state")).body.state).toBe("idle");
    } finally {
      tunnel.child.kill();
    }
  });

  test("a WAN cut shows in the state; the gateway recovers by itself", async () => {
    await local("POST", "/connect");
    await waitForState("online");
    gatewayNs.exec("ip", "link", "set", wanDevice, "down");
    const sawCut = await eventually(async () => {
      const platformState = (await local("GET", "/state")).body.platform as {
        reachable: boolean;
      } | null;
      return platformState?.reachable === false;
    }, 15_000);
    gatewayNs.exec("ip", "link", "set", wanDevice, "up");
    expect(sawCut).toBe(true);
    await eventually(async () => {
      const state = (await local("GET", "/state")).body;
      return (state.platform as { reachable: boolean }).reachable && state.state === "online";
    }, 90_000);
    expect((await local("GET", "/state")).body.state).toBe("online");
  }, 120_000);

  test("a platform restart: the gateway reconnects with a new data channel by itself", async () => {
    platform.child.kill("SIGTERM");
    await platform.child.exited;
    startPlatform();
    await waitForLog(platform.log, "Meetpoint portal:");
    const back = await eventually(
      async () => (await tech.page(`/machines/${machineId}`)).includes("online — the operator"),
      90_000,
      500,
    );
    expect(back).toBe(true);
    await waitForState("online");
    expect(agent.log.text).toContain("trying again in");
  }, 120_000);

  test("a technician's disconnect closes the gateway; only the operator re-arms it", async () => {
    const tunnel = await technicianTunnel("ticket 4712");
    try {
      await tech.disconnectNewestSession();
      await waitForState("idle", 5000);
      expect((await local("GET", "/state")).body.lastError).toBe(
        "remote session ended by technician",
      );
      await heartbeatsAfter(new Date());
      expect((await local("GET", "/state")).body.state).toBe("idle");
    } finally {
      tunnel.child.kill();
    }
  }, 60_000);

  test("after a restart of the agent the gateway stays idle until the operator decides", async () => {
    await local("POST", "/connect");
    await waitForState("online");
    agent.child.kill("SIGTERM");
    await agent.child.exited;
    const restarted = new Date();
    startAgent();
    await waitForLog(agent.log, "operator UI on https://");
    await heartbeatsAfter(restarted);
    expect((await local("GET", "/state")).body.state).toBe("idle");
    expect(await tech.page(`/machines/${machineId}`)).not.toContain("online — the operator");
  }, 60_000);
});
