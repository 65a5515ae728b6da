// The README's first command: the platform starts on its embedded defaults and can be signed in to.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { handshake, REFUSED_PROBES } from "../../common/test/support/tls-probe.ts";

let dir: string;
let server: Subprocess<"ignore", "pipe", "pipe">;
let output = "";
const httpsPort = 20_000 + Math.floor(Math.random() * 20_000);
const httpPort = httpsPort + 1;
const insecure = { tls: { rejectUnauthorized: false } };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "meetpoint-server-"));
  server = Bun.spawn(["bun", join(import.meta.dir, "../src/main.ts")], {
    env: {
      ...process.env,
      DATABASE_URL: "",
      MEETPOINT_DATA_DIR: dir,
      MEETPOINT_HTTPS_PORT: String(httpsPort),
      MEETPOINT_HTTP_PORT: String(httpPort),
      MEETPOINT_LISTEN_ADDRESS: "127.0.0.1",
      // The data plane would change this host's firewall; its own tests run it in namespaces.
      MEETPOINT_VPN_LISTEN: "off",
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const reader = server.stdout.getReader();
  const deadline = Date.now() + 30_000;
  while (!output.includes("You will choose your own password") && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    output += new TextDecoder().decode(value);
  }
  reader.releaseLock();
}, 40_000);

afterAll(() => {
  server.kill();
  rmSync(dir, { recursive: true, force: true });
});

test("prints where to sign in, the certificate fingerprint and the admin's one-time password", () => {
  expect(output).toContain(`Meetpoint portal: https://localhost:${httpsPort}/`);
  expect(output).toMatch(/SHA-256 fingerprint\n {2}([0-9A-F]{2}:){31}[0-9A-F]{2}/);
  expect(output).toMatch(/sign in as "admin" with the one-time password\n\n {4}\S{20}/);
  expect(output).toContain(
    "Data plane OFF: no OpenVPN server configured (MEETPOINT_VPN_LISTEN=off)",
  );
});

test("serves HTTPS, redirects HTTP, and the printed password signs in", async () => {
  const health = await fetch(`https://127.0.0.1:${httpsPort}/healthz`, insecure);
  expect(await health.json()).toEqual({ status: "ok" });

  const redirect = await fetch(`http://127.0.0.1:${httpPort}/machines?q=1`, { redirect: "manual" });
  expect(redirect.status).toBe(308);
  expect(redirect.headers.get("location")).toBe(`https://localhost:${httpsPort}/machines?q=1`);

  const page = await fetch(`https://127.0.0.1:${httpsPort}/sign-in`, insecure);
  const pre = page.headers.getSetCookie()[0]?.split(";")[0] ?? "";
  const csrf = (await page.text()).match(/name="_csrf" value="([^"]+)"/)?.[1] ?? "";
  const password = output.match(/one-time password\n\n {4}(\S{20})/)?.[1] ?? "";
  const signIn = await fetch(`https://127.0.0.1:${httpsPort}/sign-in`, {
    ...insecure,
    method: "POST",
    redirect: "manual",
    headers: { cookie: pre, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username: "admin", password, _csrf: csrf }),
  });
  expect(signIn.status).toBe(303);
  expect(signIn.headers.get("location")).toBe("/account/password");
});

test("HTTPS speaks TLS 1.3 and TLS 1.2 with AEAD suites only (openssl s_client)", async () => {
  expect((await handshake(httpsPort, "-tls1_3")).protocol).toBe("TLSv1.3");
  for (const suite of ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"])
    expect((await handshake(httpsPort, "-tls1_2", suite)).cipher).toBe(suite);
  // Regression: ECDHE-ECDSA-AES128-SHA (CBC) connected.
  for (const [version, suite] of REFUSED_PROBES)
    expect(`${version} ${suite} → ${(await handshake(httpsPort, version, suite)).cipher}`).toBe(
      `${version} ${suite} → null`,
    );
});

test("regression: nothing in the data directory can be read or changed by another user", async () => {
  const { readdirSync, lstatSync } = await import("node:fs");
  const open: string[] = [];
  const walk = (path: string) => {
    const stat = lstatSync(path);
    if (!stat.isSymbolicLink() && (stat.mode & 0o077) !== 0)
      open.push(`${path} ${(stat.mode & 0o777).toString(8)}`);
    if (stat.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  expect(open).toEqual([]);
  // The database is there: hundreds of files, none of them others'.
  expect(readdirSync(dir).length).toBeGreaterThan(0);
});

test("regression: commands and a second platform refuse the data directory while the platform runs on it", async () => {
  // Regression: an import "succeeded" beside the running platform, unseen by it and unaudited.
  const csv = join(dir, "..", `${dir.split("/").at(-1)}.csv`);
  await Bun.write(csv, "customer,site\nACME,Plant\n");
  const cli = (args: string[]) =>
    Bun.spawnSync(["bun", join(import.meta.dir, "../src/cli.ts"), ...args], {
      env: { ...process.env, DATABASE_URL: "", MEETPOINT_DATA_DIR: dir },
      stdout: "pipe",
      stderr: "pipe",
    });
  const said = `MEETPOINT_DATA_DIR ${dir} is in use by the Meetpoint platform (pid ${server.pid}): stop it first — the embedded database (PGlite) serves one process. With DATABASE_URL (PostgreSQL) commands may run beside the platform.\n`;
  try {
    for (const args of [
      ["import", csv],
      ["audit", "verify"],
      ["backup", "create", "--out", `${csv}.tar.gz`],
      ["admin", "create", "second"],
      ["migrate"],
    ]) {
      const refused = cli(args);
      expect(refused.stderr.toString()).toBe(said);
      expect(refused.stdout.toString()).toBe("");
      expect(refused.exitCode).toBe(2);
    }
    expect(await Bun.file(`${csv}.tar.gz`).exists()).toBe(false);
  } finally {
    rmSync(csv, { force: true });
  }
  const second = Bun.spawn(["bun", join(import.meta.dir, "../src/main.ts")], {
    env: {
      ...process.env,
      DATABASE_URL: "",
      MEETPOINT_DATA_DIR: dir,
      MEETPOINT_HTTPS_PORT: String(httpsPort + 2),
      MEETPOINT_HTTP_PORT: "0",
      MEETPOINT_LISTEN_ADDRESS: "127.0.0.1",
      MEETPOINT_VPN_LISTEN: "off",
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(await second.exited).toBe(2);
  // A second platform is told why, and what runs several instances.
  expect(await new Response(second.stderr).text()).toBe(
    `${said.trimEnd()} PGlite is single-instance; use PostgreSQL to run several instances.\n`,
  );
  // The first one still serves.
  expect((await fetch(`https://127.0.0.1:${httpsPort}/healthz`, insecure)).status).toBe(200);
}, 60_000);

test("a data directory other users can read or write is refused, saying how to fix it", async () => {
  const { chmodSync } = await import("node:fs");
  const shared = mkdtempSync(join(tmpdir(), "meetpoint-shared-"));
  chmodSync(shared, 0o755);
  try {
    const refused = Bun.spawn(["bun", join(import.meta.dir, "../src/main.ts")], {
      env: {
        ...process.env,
        DATABASE_URL: "",
        MEETPOINT_DATA_DIR: shared,
        MEETPOINT_VPN_LISTEN: "off",
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await refused.exited).toBe(2);
    const said = await new Response(refused.stderr).text();
    expect(said).toContain(
      `MEETPOINT_DATA_DIR: ${shared} may be read or changed by other users (mode 755)`,
    );
    expect(said).toContain(`chmod -R go-rwx "${shared}"`);
  } finally {
    rmSync(shared, { recursive: true, force: true });
  }
});

test("a key file other users can read is refused, inside the data directory or outside it", async () => {
  const { chmodSync, writeFileSync } = await import("node:fs");
  const data = mkdtempSync(join(tmpdir(), "meetpoint-kekmode-"));
  const outside = mkdtempSync(join(tmpdir(), "meetpoint-kekfile-"));
  try {
    const inData = join(data, "kek");
    const elsewhere = join(outside, "kek");
    for (const file of [inData, elsewhere]) {
      writeFileSync(file, `${"ab".repeat(32)}\n`);
      chmodSync(file, 0o644);
    }
    for (const [variable, env] of [
      ["MEETPOINT_KEK_FILE", {}],
      ["MEETPOINT_KEK_FILE", { MEETPOINT_KEK_FILE: elsewhere }],
    ] as const) {
      const refused = Bun.spawn(["bun", join(import.meta.dir, "../src/main.ts")], {
        env: {
          ...process.env,
          DATABASE_URL: "",
          MEETPOINT_DATA_DIR: data,
          MEETPOINT_VPN_LISTEN: "off",
          ...env,
        },
        stdout: "pipe",
        stderr: "pipe",
      });
      expect(await refused.exited).toBe(2);
      const said = await new Response(refused.stderr).text();
      const file = "MEETPOINT_KEK_FILE" in env ? elsewhere : inData;
      expect(said).toContain(
        `${variable}: ${file} may be read or changed by other users (mode 644)`,
      );
      expect(said).toContain(`chmod go-rwx "${file}"`);
    }
  } finally {
    rmSync(data, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});
