// The gateway's maintenance SSH server and the operator UI's reach, with real nftables, a real
// dropbear and a real SSH client (dbclient) between namespaces: the agent is driven only by what the
// platform would send — signed settings and heartbeat answers (a maintenance session listed or not).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EnvelopeBody, run, spawnProcess, waitFor } from "@meetpoint/common";
import { labSkipReason, link, Netns } from "@meetpoint/lab";
import { spawnSync } from "bun";
import { KernelFirewall } from "../src/firewall/kernel.ts";
import { DropbearServer } from "../src/ssh/server.ts";
import { TUNNEL_DEVICE } from "../src/vpn/openvpn.ts";
import { sign, type TestAgent, testAgent } from "./support/fakes.ts";

const skip = labSkipReason(["nft", "conntrack", "dropbear", "dbclient", "dropbearkey"]);

const GATEWAY_LAN = "192.168.0.1";
const GATEWAY_WAN = "198.18.221.2";
const GATEWAY_TUNNEL = "100.127.0.2"; // the address the fake VPN reports when it comes up
const UI_PORT = 8443;

describe.skipIf(skip !== null)("maintenance SSH and operator UI reach, real nftables", () => {
  let tunnel: Netns;
  let gateway: Netns;
  let lan: Netns;
  let wan: Netns;
  let dir: string;
  let wanLink: string;
  let t: TestAgent;
  const keys: Record<"admin" | "stranger", { file: string; line: string }> = {} as never;

  /** Gives root in `ns` a home of its own (ip netns exec mounts /etc/netns/<ns>/passwd). */
  const ownHome = (ns: Netns, home: string) => {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    mkdirSync(`/etc/netns/${ns.name}`, { recursive: true });
    writeFileSync(
      `/etc/netns/${ns.name}/passwd`,
      readFileSync("/etc/passwd", "utf8").replace(
        /^root:x:0:0:[^:]*:[^:]*:/m,
        `root:x:0:0:root:${home}:`,
      ),
    );
  };

  /** dbclient from `ns`: exit code and output; 124 when it hung (e.g. SYN dropped). */
  const ssh = (
    ns: Netns,
    address: string,
    options: { key?: string; password?: string; command?: string } = {},
  ) => {
    const args = ["ip", "netns", "exec", ns.name, "timeout", "4", "dbclient", "-y", "-y"];
    if (options.key) args.push("-i", options.key);
    args.push(`root@${address}`, options.command ?? "echo meetpoint-maintenance-ok");
    const result = spawnSync(args, {
      env: { ...process.env, DROPBEAR_PASSWORD: options.password ?? "" },
      stdout: "pipe",
      stderr: "pipe",
      stdin: "ignore",
    });
    return {
      code: result.exitCode,
      output: `${result.stdout.toString()}${result.stderr.toString()}`,
    };
  };

  const fetchFrom = (ns: Netns, url: string) =>
    ns.exec(
      "bun",
      "-e",
      `try { const r = await fetch("${url}", { signal: AbortSignal.timeout(1500) }); console.log(await r.text()); } catch { console.log("unreachable"); }`,
    );

  /** The platform's signed settings, delivered with the next heartbeat answer. */
  const settings = async (change: {
    ssh?: boolean;
    keys?: string[];
    reach?: "lan" | "lan-and-wan";
  }) => {
    const body: EnvelopeBody<"gateway-settings"> = {
      gatewayId: t.gatewayId,
      ssh: {
        enabled: change.ssh ?? true,
        authorizedKeys: (change.keys ?? [keys.admin.line]).map((key) => ({ key, label: "admin" })),
        operatorKeys: false,
      },
      operatorUi: { reach: change.reach ?? "lan" },
    };
    const version = t.agent.settings.version;
    t.control.answer = {
      ...t.control.answer,
      settings: await sign(t.keys, "gateway-settings", t.gatewayId, body),
    };
    t.agent.heartbeatNow();
    expect(await waitFor(() => t.agent.settings.version > version, { timeoutMs: 5000 })).toBe(true);
  };

  /** The heartbeat answer: the data channel online, with or without a maintenance session. */
  const maintenance = (open: boolean) => {
    const now = Date.now();
    t.control.answer = {
      ...t.control.answer,
      dataChannel: {
        gatewaySessionId: t.agent.status.gatewaySessionId ?? "",
        state: "online",
        closeReason: null,
        operatorMustReconnect: false,
      },
      maintenanceSessions: open
        ? [
            {
              id: crypto.randomUUID(),
              technician: "Ada Admin",
              reason: "update the gateway's packages",
              since: new Date(now).toISOString(),
              until: new Date(now + 3_600_000).toISOString(),
            },
          ]
        : [],
    };
    t.agent.heartbeatNow();
  };

  const newKey = (name: string) => {
    const file = join(dir, name);
    spawnSync(["dropbearkey", "-t", "ed25519", "-f", file], { stdout: "ignore", stderr: "ignore" });
    const shown = spawnSync(["dropbearkey", "-y", "-f", file], {
      stdout: "pipe",
    }).stdout.toString();
    const line = (shown.split("\n").find((l) => l.startsWith("ssh-ed25519 ")) ?? "")
      .split(" ")
      .slice(0, 2)
      .join(" ");
    return { file, line };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "meetpoint-ssh-"));
    tunnel = Netns.create("ssh-tun");
    gateway = Netns.create("ssh-gw");
    lan = Netns.create("ssh-lan");
    wan = Netns.create("ssh-wan");
    const tl = link(tunnel, "100.127.0.3/20", gateway, `${GATEWAY_TUNNEL}/20`);
    // The agent's firewall names OpenVPN's tun device; a veth under that name stands in for it.
    gateway.exec("ip", "link", "set", tl.bName, "down");
    gateway.exec("ip", "link", "set", tl.bName, "name", TUNNEL_DEVICE);
    gateway.exec("ip", "link", "set", TUNNEL_DEVICE, "up");
    const l = link(gateway, `${GATEWAY_LAN}/24`, lan, "192.168.0.10/24");
    const w = link(gateway, `${GATEWAY_WAN}/24`, wan, "198.18.221.1/24");
    wanLink = w.aName;
    for (const ns of [gateway, lan, tunnel, wan]) ownHome(ns, join(dir, `home-${ns.name}`));
    keys.admin = newKey("admin");
    keys.stranger = newKey("stranger");
    // A stand-in for the operator UI, listening on every address like the real one.
    gateway.spawn([
      "bun",
      "-e",
      `Bun.serve({ hostname: "0.0.0.0", port: ${UI_PORT}, fetch: () => new Response("operator ui") })`,
    ]);
    const inGateway = { netns: gateway.name };
    t = await testAgent({
      firewall: new KernelFirewall((args, options) => run(args, { ...options, ...inGateway })),
      ssh: new DropbearServer({
        dir: join(dir, "ssh"),
        user: "root",
        run: (args, options) => run(args, { ...options, ...inGateway }),
        spawn: (args, options) => spawnProcess(args, { ...options, ...inGateway }),
        log: () => {},
      }),
      lanInterface: l.aName,
      lanAddresses: [GATEWAY_LAN],
      uiPorts: [UI_PORT],
    });
    await waitFor(
      () => fetchFrom(lan, `http://${GATEWAY_LAN}:${UI_PORT}/`).includes("operator ui"),
      {
        timeoutMs: 10_000,
        intervalMs: 100,
      },
    );
  }, 60_000);

  afterAll(async () => {
    await t?.dispose();
    for (const ns of [tunnel, gateway, lan, wan]) ns?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("off by default: nothing listens on port 22", async () => {
    expect(t.agent.ssh.listening).toEqual([]);
    expect(ssh(lan, GATEWAY_LAN, { key: keys.admin.file }).output).not.toContain(
      "meetpoint-maintenance-ok",
    );
  }, 30_000);

  test("LAN with an authorized key works; other keys and passwords are refused; all reported", async () => {
    await settings({ ssh: true });
    expect(
      await waitFor(() => t.agent.ssh.listening.includes(GATEWAY_LAN), { timeoutMs: 5000 }),
    ).toBe(true);
    const ok = ssh(lan, GATEWAY_LAN, { key: keys.admin.file });
    expect(ok.output).toContain("meetpoint-maintenance-ok");
    expect(ok.code).toBe(0);
    // A key the platform did not authorize.
    const stranger = ssh(lan, GATEWAY_LAN, { key: keys.stranger.file });
    expect(stranger.output).not.toContain("meetpoint-maintenance-ok");
    // A password, even root's real one were it known: the server offers public keys only.
    const password = ssh(lan, GATEWAY_LAN, { password: "meetpoint" });
    expect(password.output).toContain("No auth methods could be used");
    // Each login and each refusal goes to the platform with the next heartbeats.
    const reported = () => t.control.heartbeats.flatMap((h) => h.sshEvents ?? []);
    expect(
      await waitFor(() => reported().filter((e) => e.kind === "failed").length >= 2, {
        timeoutMs: 10_000,
      }),
    ).toBe(true);
    const login = reported().find((e) => e.kind === "login");
    expect(login?.user).toBe("root");
    expect(login?.from).toStartWith("192.168.0.10:");
    expect(t.control.heartbeats.at(-1)?.sshHostKey).toStartWith("SHA256:");
  }, 30_000);

  test("WAN → 22 unreachable: not listened on, and dropped", async () => {
    const listening = gateway.exec("ss", "-Hltn", "sport", "= :22");
    expect(listening).toContain(`${GATEWAY_LAN}:22`);
    expect(listening).not.toContain("0.0.0.0:22");
    expect(listening).not.toContain(`${GATEWAY_WAN}:22`);
    const fromWan = ssh(wan, GATEWAY_WAN, { key: keys.admin.file });
    expect(fromWan.output).not.toContain("meetpoint-maintenance-ok");
    // And the LAN address from the WAN side: never forwarded, never accepted.
    wan.exec("ip", "route", "replace", "192.168.0.0/24", "via", GATEWAY_WAN);
    expect(ssh(wan, GATEWAY_LAN, { key: keys.admin.file }).output).not.toContain(
      "meetpoint-maintenance-ok",
    );
  }, 30_000);

  test("over the tunnel only while a maintenance session is open; established flows stop with it", async () => {
    expect((await t.agent.connect("operator UI")).ok).toBe(true);
    expect(await waitFor(() => t.agent.status.state === "online", { timeoutMs: 5000 })).toBe(true);
    maintenance(false);
    expect(
      await waitFor(() => t.firewall.last?.tunnelInterface === TUNNEL_DEVICE, { timeoutMs: 5000 }),
    ).toBe(true);
    expect(ssh(tunnel, GATEWAY_TUNNEL, { key: keys.admin.file }).code).toBe(124);

    maintenance(true);
    expect(
      await waitFor(() => t.agent.ssh.listening.includes(GATEWAY_TUNNEL), { timeoutMs: 5000 }),
    ).toBe(true);
    expect(ssh(tunnel, GATEWAY_TUNNEL, { key: keys.admin.file }).output).toContain(
      "meetpoint-maintenance-ok",
    );
    // A session that stays open, printing a line every 200 ms.
    let lines = 0;
    const held = spawnProcess(
      [
        "dbclient",
        "-y",
        "-y",
        "-i",
        keys.admin.file,
        `root@${GATEWAY_TUNNEL}`,
        "while true; do echo tick; sleep 0.2; done",
      ],
      { netns: tunnel.name, onLine: () => lines++ },
    );
    try {
      expect(await waitFor(() => lines > 3, { timeoutMs: 10_000 })).toBe(true);
      maintenance(false);
      expect(
        await waitFor(() => !t.agent.ssh.listening.includes(GATEWAY_TUNNEL), { timeoutMs: 5000 }),
      ).toBe(true);
      // The held session stalls: no new line arrives over two seconds in a row.
      let seen = -1;
      expect(
        await waitFor(
          () => {
            const stalled = lines === seen;
            seen = lines;
            return stalled;
          },
          { timeoutMs: 10_000, intervalMs: 2000 },
        ),
      ).toBe(true);
      expect(ssh(tunnel, GATEWAY_TUNNEL, { key: keys.admin.file }).code).toBe(124);
      // The LAN side keeps working all along.
      expect(ssh(lan, GATEWAY_LAN, { key: keys.admin.file }).output).toContain(
        "meetpoint-maintenance-ok",
      );
    } finally {
      held.kill("SIGKILL");
    }
  }, 60_000);

  test("operator UI: machine network only by default, the WAN side only when the platform says so — also after a rename", async () => {
    const wanUi = `http://${GATEWAY_WAN}:${UI_PORT}/`;
    expect(fetchFrom(wan, wanUi)).toContain("unreachable");
    expect(fetchFrom(lan, `http://${GATEWAY_LAN}:${UI_PORT}/`)).toContain("operator ui");
    await settings({ reach: "lan-and-wan" });
    expect(
      await waitFor(() => fetchFrom(wan, wanUi).includes("operator ui"), { timeoutMs: 5000 }),
    ).toBe(true);
    // The tunnel still reaches nothing of the gateway's own but SSH in a maintenance session.
    expect(fetchFrom(tunnel, `http://${GATEWAY_TUNNEL}:${UI_PORT}/`)).toContain("unreachable");
    gateway.exec("ip", "link", "set", wanLink, "down");
    gateway.exec("ip", "link", "set", wanLink, "name", "wan-renamed");
    gateway.exec("ip", "link", "set", "wan-renamed", "up");
    try {
      expect(
        await waitFor(() => fetchFrom(wan, wanUi).includes("operator ui"), { timeoutMs: 5000 }),
      ).toBe(true);
      await settings({ reach: "lan" });
      expect(
        await waitFor(() => fetchFrom(wan, wanUi).includes("unreachable"), { timeoutMs: 5000 }),
      ).toBe(true);
      expect(fetchFrom(lan, `http://${GATEWAY_LAN}:${UI_PORT}/`)).toContain("operator ui");
    } finally {
      gateway.exec("ip", "link", "set", "wan-renamed", "down");
      gateway.exec("ip", "link", "set", "wan-renamed", "name", wanLink);
      gateway.exec("ip", "link", "set", wanLink, "up");
    }
  }, 60_000);

  test("switched off by the platform: the server stops and its open sessions end", async () => {
    let lines = 0;
    const held = spawnProcess(
      [
        "dbclient",
        "-y",
        "-y",
        "-i",
        keys.admin.file,
        `root@${GATEWAY_LAN}`,
        "while true; do echo tick; sleep 0.2; done",
      ],
      { netns: lan.name, onLine: () => lines++ },
    );
    try {
      expect(await waitFor(() => lines > 3, { timeoutMs: 10_000 })).toBe(true);
      await settings({ ssh: false });
      expect(await waitFor(() => t.agent.ssh.listening.length === 0, { timeoutMs: 5000 })).toBe(
        true,
      );
      expect(gateway.exec("ss", "-Hltn", "sport", "= :22").trim()).toBe("");
      // The session's server side was ended with the server: the client sees the connection close.
      expect(await waitFor(() => held.end !== null, { timeoutMs: 10_000 })).toBe(true);
    } finally {
      held.kill("SIGKILL");
    }
  }, 30_000);
});
