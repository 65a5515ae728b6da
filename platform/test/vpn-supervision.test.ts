// The OpenVPN servers over days and faults, against a fake openvpn (no root): a server that keeps
// failing is restarted with back-off until it runs, and says so meanwhile; server certificates are
// renewed well before they end — at a quiet moment, or regardless when little time is left.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCidr, run, spawnProcess, waitFor } from "@meetpoint/common";
import { x509 } from "../src/pki/x509.ts";
import type { CommandRunner } from "../src/system/index.ts";
import { VpnServers } from "../src/vpn/servers.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

const FAKE = join(import.meta.dir, "support/fake-openvpn-server.ts");
const DAY = 86_400_000;

let p: TestPlatform;
let dir: string;
let servers: VpnServers;
const crashes: number[] = [];
const logged: string[] = [];

/** Runs the fake in place of openvpn; everything else as the real runner would. */
const commands: CommandRunner = {
  run: (args, input, timeoutMs) => run(args, { input, timeoutMs }),
  start: (args, options) =>
    spawnProcess(args[0] === "openvpn" ? ["bun", FAKE, ...args.slice(1)] : args, options),
};

const certificateEnd = () =>
  new x509.X509Certificate(readFileSync(join(dir, "server0.pem"), "utf8")).notAfter;

beforeAll(async () => {
  p = await testPlatform();
  dir = mkdtempSync(join(tmpdir(), "meetpoint-vpn-supervision-"));
  servers = new VpnServers(
    {
      commands,
      dir,
      pki: p.pki,
      proxyPool: p.proxyPool.pool,
      instances: [
        {
          index: 0,
          protocol: "tcp",
          listenAddress: null,
          port: 1194,
          tunnelNetwork: parseCidr("100.127.0.0/20") ?? p.proxyPool.pool,
        },
      ],
      onEvent: () => {},
      onCrash: (index) => crashes.push(index),
      log: (line) => logged.push(line),
    },
    () => p.clock.now(),
  );
  await servers.start();
});

afterAll(async () => {
  await servers.stop();
  rmSync(dir, { recursive: true, force: true });
  await p.dispose();
});

describe("OpenVPN server supervision", () => {
  test("regression: a crashed server that keeps failing is restarted until it runs, and says so meanwhile", async () => {
    expect(servers.states()[0]).toMatchObject({ state: "running" });
    writeFileSync(join(dir, "fail-remaining"), "3");
    servers.processOf(0)?.kill("SIGKILL");
    // Three failed starts (0.5 s, 1 s, 2 s of back-off), each visible as it happens.
    expect(
      await waitFor(
        () => {
          const state = servers.states()[0];
          return state?.state === "restarting" && state.attempt >= 3;
        },
        { timeoutMs: 15_000 },
      ),
    ).toBe(true);
    expect(servers.states()[0]).toMatchObject({
      state: "restarting",
      lastError: expect.stringContaining("Cannot open TUN/TAP dev"),
    });
    expect(
      await waitFor(() => servers.states()[0]?.state === "running", { timeoutMs: 20_000 }),
    ).toBe(true);
    expect(crashes).toEqual([0]);
    expect(logged.filter((l) => l.includes("restarting in")).length).toBe(4);
  }, 40_000);

  test("regression: handshakes a server refuses at the TLS level are counted by cause", async () => {
    expect(
      await waitFor(() => (servers.refused.byCause["certificate expired"] ?? 0) > 0, {
        timeoutMs: 5000,
      }),
    ).toBe(true);
    // The VERIFY ERROR and the failed handshake after it are one refusal.
    expect(servers.refused.total).toBe(servers.refused.byCause["certificate expired"] ?? -1);
    expect(servers.refused.last?.line).toContain("TLS Error: TLS handshake failed");
  });

  test("a server certificate lives 90 days: 8 days on nothing is renewed", async () => {
    const pid = servers.processOf(0)?.pid;
    const end = certificateEnd();
    expect(end.getTime() - p.clock.now().getTime()).toBeGreaterThan(89 * DAY);
    p.clock.advance(8 * DAY);
    await servers.renewCertificates(() => 0);
    expect(servers.processOf(0)?.pid).toBe(pid);
    expect(certificateEnd()).toEqual(end);
  });

  test("with 30 days left it is renewed at a quiet moment, not under a live connection", async () => {
    p.clock.advance(53 * DAY); // 61 days in: 29 left
    const pid = servers.processOf(0)?.pid;
    await servers.renewCertificates(() => 1);
    expect(servers.processOf(0)?.pid).toBe(pid);
    await servers.renewCertificates(() => 0);
    expect(servers.processOf(0)?.pid).not.toBe(pid);
    expect(certificateEnd().getTime() - p.clock.now().getTime()).toBeGreaterThan(89 * DAY);
    expect(servers.states()[0]).toMatchObject({ state: "running" });
  });

  test("with less than 7 days left it is renewed even under live connections (they reconnect)", async () => {
    p.clock.advance(84 * DAY);
    const pid = servers.processOf(0)?.pid;
    const before = crashes.length;
    await servers.renewCertificates(() => 5);
    expect(servers.processOf(0)?.pid).not.toBe(pid);
    expect(certificateEnd().getTime()).toBeGreaterThan(p.clock.now().getTime() + 89 * DAY);
    // Its sessions are ended (the connections went with the old process).
    expect(crashes.length).toBe(before + 1);
  });
});
