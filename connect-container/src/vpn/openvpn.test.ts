// The OpenVPN client: its argv (pure), and its supervision against a fake openvpn executable (no
// root, no tun device): the one-time profile, the management socket, failure lines, SIGKILL after
// 700 ms, generations.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "@meetpoint/common";
import { clientArgs, OpenvpnClient, TUNNEL_DEVICE } from "./openvpn.ts";

test("OpenVPN runs the verified profile on the gateway's tun device, managed over a Unix socket, routing nothing", () => {
  const args = clientArgs({ profile: "/data/run/dc.ovpn", management: "/data/run/openvpn.sock" });
  expect(args.slice(0, 3)).toEqual(["openvpn", "--config", "/data/run/dc.ovpn"]);
  const pairs = args.join(" ");
  expect(pairs).toContain(`--dev ${TUNNEL_DEVICE} --dev-type tun`);
  expect(pairs).toContain("--management /data/run/openvpn.sock unix");
  expect(pairs).toContain("--script-security 1");
  for (const option of ["redirect-gateway", "route", "dhcp-option"])
    expect(pairs).toContain(`--pull-filter ignore ${option}`);
  // Options after --config override the profile's.
  expect(args.indexOf("--dev")).toBeGreaterThan(args.indexOf("--config"));
});

const FAKE_OPENVPN = join(import.meta.dir, "../../test/support/fake-openvpn.ts");
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "meetpoint-openvpn-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tunnel(scenario: string) {
  const lines: string[] = [];
  const client = new OpenvpnClient(
    join(dir, `run-${scenario}`),
    (line) => lines.push(line),
    FAKE_OPENVPN,
  );
  const seen = { up: [] as string[], down: [] as string[] };
  const handlers = {
    up: (address: string) => void seen.up.push(address),
    down: (reason: string) => void seen.down.push(reason),
  };
  const profile = join(dir, `run-${scenario}`, "data-channel.ovpn");
  return { client, seen, handlers, lines, profile };
}

test("the version comes from openvpn --version, whatever its exit code", async () => {
  expect(await new OpenvpnClient(dir, undefined, FAKE_OPENVPN).version()).toBe("2.6.14");
});

test("up over the management socket; the one-time profile is gone once read; a stop reports nothing", async () => {
  const t = tunnel("up");
  await t.client.start("scenario up\n", t.handlers);
  expect(existsSync(t.profile)).toBe(false);
  expect(await waitFor(() => t.seen.up.length > 0, { timeoutMs: 5000 })).toBe(true);
  expect(t.seen.up).toEqual(["100.127.0.2"]);
  expect(t.client.running).toBe(true);
  expect(t.lines.some((l) => l.startsWith("openvpn: ") && l.includes("--dev meetpoint-tun"))).toBe(
    true,
  );
  await t.client.stop();
  expect(t.client.running).toBe(false);
  expect(t.seen.down).toEqual([]);
});

test("a process that fails reports down with OpenVPN's most telling line", async () => {
  const t = tunnel("fail");
  await t.client.start("scenario fail\n", t.handlers);
  expect(await waitFor(() => t.seen.down.length > 0, { timeoutMs: 5000 })).toBe(true);
  expect(t.seen.down).toEqual(["OpenVPN: AUTH_FAILED,certificate revoked"]);
  expect(t.client.running).toBe(false);
  expect(existsSync(t.profile)).toBe(false);
});

test("a client that ignores SIGTERM is killed after 700 ms", async () => {
  const t = tunnel("stubborn");
  await t.client.start("scenario stubborn\n", t.handlers);
  expect(await waitFor(() => t.seen.up.length > 0, { timeoutMs: 5000 })).toBe(true);
  const started = Date.now();
  await t.client.stop();
  expect(Date.now() - started).toBeGreaterThanOrEqual(700);
  expect(Date.now() - started).toBeLessThan(3000);
  expect(t.client.running).toBe(false);
  expect(t.seen.down).toEqual([]);
});

test("a newer start replaces the running client; the old one's end never reaches the new tunnel", async () => {
  const t = tunnel("replace");
  const first = { up: 0, down: [] as string[] };
  await t.client.start("scenario up\n", {
    up: () => void first.up++,
    down: (reason) => void first.down.push(reason),
  });
  expect(await waitFor(() => first.up > 0, { timeoutMs: 5000 })).toBe(true);
  await t.client.start("scenario up\n", t.handlers);
  expect(await waitFor(() => t.seen.up.length > 0, { timeoutMs: 5000 })).toBe(true);
  expect(first.down).toEqual([]);
  expect(t.seen.down).toEqual([]);
  await t.client.stop();
});
