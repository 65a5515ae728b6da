// A maintenance window in the namespace lab, all real: the platform (HTTPS + OpenVPN + nftables),
// the agent between a WAN link and a machine LAN, a technician with the stock openvpn client. The
// operator creates a window on the gateway's screen; at its start the gateway arms by itself; a
// technician's request inside it is approved automatically (the site asks for a customer approver
// otherwise) and reaches the machine; at the window's end the session is cut — measured from the
// end to the last answer through the tunnel — and the data channel is disarmed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
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
const PORTAL = "https://198.18.240.2:8443";
const OPERATOR = "https://198.18.243.2:8443";
const PLATFORM_WAN = "198.18.241.1";

describe.skipIf(skip !== null)("a maintenance window, end to end", () => {
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
  let windowStart: Date;
  let windowEnd: Date;
  let apiToken = "";
  const operator = new PortalClient(OPERATOR);
  const children: Subprocess[] = [];

  async function waitForLog(log: OutputLog, text: string, ms = 30_000) {
    const ok = await eventually(async () => log.has(text), ms, 50);
    if (!ok) throw new Error(`"${text}" did not appear:\n${log.text.slice(-3000)}`);
  }

  async function state(): Promise<string> {
    const response = await fetch(`${OPERATOR}/api/local/v1/state`, {
      headers: { authorization: `Bearer ${apiToken}` },
      tls: { rejectUnauthorized: false },
    });
    return ((await response.json()) as { state: string }).state;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "meetpoint-mwlab-"));
    platformNs = Netns.create("mw-plat");
    gatewayNs = Netns.create("mw-gw");
    machineNs = Netns.create("mw-lan");
    technicianNs = Netns.create("mw-tech");
    linkToHost(platformNs, "198.18.240.1/30", "198.18.240.2/30");
    const wanDevice = link(platformNs, `${PLATFORM_WAN}/30`, gatewayNs, "198.18.241.2/30").bName;
    gatewayNs.exec("ip", "route", "add", "default", "via", PLATFORM_WAN);
    const lanDevice = link(gatewayNs, "192.168.0.1/24", machineNs, "192.168.0.10/24").aName;
    machineNs.exec("ip", "route", "add", "default", "via", "192.168.0.1");
    link(platformNs, "198.18.242.1/30", technicianNs, "198.18.242.2/30");
    technicianNs.exec("ip", "route", "add", `${PLATFORM_WAN}/32`, "via", "198.18.242.1");
    operatorLink(machineNs, "198.18.243.1/30", "198.18.243.2/30", "192.168.0.1");
    children.push(
      machineNs.spawn([
        "bun",
        "-e",
        `Bun.serve({ hostname: "192.168.0.10", port: 80, fetch: () => new Response("machine 80") })`,
      ]),
    );
    const platformChild = platformNs.spawn(["bun", join(ROOT, "platform/src/main.ts")], {
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
    platform = { child: platformChild, log: new OutputLog(platformChild) };
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
    proxyAddress =
      (await admin.page(`/machines/${machineId}`)).match(/(100\.6[4-9]\.\d+\.\d+)/)?.[1] ?? "";
    // Outside windows a customer approver must allow each request at this site.
    await admin.page(`/sites/${site}`);
    const policy = await admin.request("POST", `/sites/${site}/consent`, {
      consentPolicy: "customer_approval",
      maxSessionMinutes: "60",
      requestExpiryMinutes: "10",
    });
    expect(policy.status).toBe(303);
    const techPassword = await admin.createUser("tech", "Tina Technician", "technician", customer);
    tech = new PortalClient(PORTAL);
    await tech.firstSignIn("tech", techPassword);

    const agentChild = gatewayNs.spawn(["bun", join(ROOT, "connect-container/src/main.ts")], {
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
    agent = { child: agentChild, log: new OutputLog(agentChild) };
    await waitForLog(agent.log, "operator UI on https://");
    const importDir = join(dir, "gateway", "import");
    mkdirSync(importDir, { recursive: true });
    writeFileSync(join(importDir, "hall-1.jws"), gateway.bundle);
    await waitForLog(agent.log, `gateway ${gateway.id}, version 1`);
    // The operator signs in on the gateway's screen and makes the local API token (to read state).
    await operator.request("POST", "/sign-in", { password: "meetpoint" });
    await operator.page("/");
    await operator.request("POST", "/password", {
      current: "meetpoint",
      next: "Operator-Passw0rd",
    });
    await operator.page("/settings");
    apiToken =
      (await operator.go("/settings/api-token", {})).html.match(
        /id="api-token">([A-Za-z0-9_-]+)</,
      )?.[1] ?? "";
    if (!apiToken) throw new Error("no local API token");
  }, 150_000);

  afterAll(async () => {
    for (const child of children) child.kill("SIGTERM");
    agent?.child.kill("SIGTERM");
    platform?.child.kill("SIGTERM");
    await Promise.all([
      agent?.child.exited,
      platform?.child.exited,
      ...children.map((c) => c.exited),
    ]);
    for (const ns of [technicianNs, machineNs, gatewayNs, platformNs]) ns?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  test("the operator creates a window on the gateway's screen; a window ending before it starts is refused at `end`", async () => {
    expect(await state()).toBe("idle");
    const seconds = (s: number) => new Date(Date.now() + s * 1000).toISOString().slice(0, 19);
    await operator.page("/windows");
    const refused = await operator.request("POST", "/windows", {
      start: seconds(60),
      end: seconds(30),
      reason: "backwards",
    });
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('data-field="end"');
    const tech1 = (await operator.page("/windows")).match(
      /name="technician\.([0-9a-f-]{36})"/,
    )?.[1];
    expect(tech1).toBeDefined();
    windowStart = new Date(`${seconds(12)}Z`);
    windowEnd = new Date(windowStart.getTime() + 25_000);
    const created = await operator.request("POST", "/windows", {
      start: windowStart.toISOString().slice(0, 19),
      end: windowEnd.toISOString().slice(0, 19),
      [`technician.${tech1}`]: "on",
      reason: "spindle retrofit",
    });
    // Post/Redirect/Get: a reload of the confirmation does not create the window again.
    expect(created.status, created.html.slice(0, 500)).toBe(303);
    expect(created.location).toContain("/windows?created=");
    const shown = await operator.page(
      new URL(created.location ?? "").pathname + new URL(created.location ?? "").search,
    );
    expect(shown).toContain("created");
    expect(shown).toContain("spindle retrofit");
  });

  test("before the start the gateway stays idle: nothing is armed ahead of the window", async () => {
    expect(await state()).toBe("idle");
  });

  test("at the start the gateway arms by itself; a matching request is approved at once and reaches the machine", async () => {
    const armed = await eventually(async () => (await state()) === "online", 40_000, 50);
    expect(armed, agent.log.text.slice(-2000)).toBe(true);
    const onlineMs = Date.now() - windowStart.getTime();
    console.log(`window start → gateway online (armed by itself): ${onlineMs} ms`);
    expect(agent.log.text).toContain("maintenance window");
    const events = await operator.page("/events");
    expect(events).toContain("spindle retrofit");
    const profile = await tech.connect(machineId, "spindle retrofit support");
    const file = join(dir, "tech.ovpn");
    writeFileSync(file, profile, { mode: 0o600 });
    const vpn = technicianNs.spawn(["openvpn", "--config", file, "--verb", "3"]);
    children.push(vpn);
    await waitForLog(new OutputLog(vpn), "Initialization Sequence Completed", 20_000);
    const audit = await admin.page("/audit?action=remote_session.approve");
    expect(audit).toContain("maintenance window");
    // A prober on the technician's host: one request every 50 ms, each line "<epoch ms> ok|fail".
    const probe = technicianNs.spawn([
      "bun",
      "-e",
      `for (;;) { const t = Date.now(); let ok = false; try { const r = await fetch("http://${proxyAddress}/", { signal: AbortSignal.timeout(200) }); ok = (await r.text()).includes("machine 80"); } catch {} console.log(t + (ok ? " ok" : " fail")); await Bun.sleep(50); }`,
    ]);
    children.push(probe);
    const probeLog = new OutputLog(probe);
    await waitForLog(probeLog, " ok", 10_000);

    // The window's end: the session is cut, the channel disarmed.
    const idle = await eventually(
      async () => (await state()) === "idle",
      windowEnd.getTime() - Date.now() + 15_000,
      50,
    );
    expect(idle, agent.log.text.slice(-2000)).toBe(true);
    await Bun.sleep(1500);
    probe.kill("SIGTERM");
    await probe.exited;
    const lines = probeLog.text
      .split("\n")
      .map((l) => l.trim().split(" "))
      .filter((p) => p.length === 2)
      .map(([t, r]) => ({ at: Number(t), ok: r === "ok" }));
    const lastOk = Math.max(...lines.filter((l) => l.ok).map((l) => l.at));
    const end = windowEnd.getTime();
    const firstRefused = lines.find((l) => !l.ok && l.at >= end)?.at ?? Number.NaN;
    console.log(
      `window end → no traffic: the first request after the end refused ${firstRefused - end} ms after it (the last answered one was sent ${lastOk - end} ms from the end)`,
    );
    expect(lastOk).toBeGreaterThan(end - 5_000);
    expect(firstRefused - end).toBeLessThan(1_000);
    // Nothing answered from 1 s after the end on (the probe sends every 50 ms).
    expect(lines.filter((l) => l.at > end + 1_000 && l.ok)).toEqual([]);
    expect(lines.filter((l) => l.at > end + 1_000).length).toBeGreaterThan(5);
    expect(agent.log.text).toContain("ends: disconnecting");
    const sessions = await admin.page("/sessions");
    expect(sessions).toContain('data-end-reason="window_ended"');
  }, 120_000);
});
