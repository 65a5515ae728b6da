// Backup and restore on the engine the suite runs on (PGlite, or PostgreSQL with DATABASE_URL):
// a backup restored into a fresh database gives a platform whose audit chain verifies with the
// same head — and whose CA opens only with the same KEK.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { verifyAuditChain } from "../src/audit/index.ts";
import { type Database, openDatabase } from "../src/db/index.ts";
import { createAdmin } from "../src/identity/index.ts";
import { loadKek, Pki } from "../src/pki/index.ts";
import { ManualClock } from "../src/shared/index.ts";

const KEK = "5a".repeat(32);
const serverUrl = process.env.DATABASE_URL || null;
let dir: string;
const databases: string[] = [];
let admin: ReturnType<typeof postgres> | null = null;

/** A new, empty database: a PostgreSQL database of its own, or a PGlite data directory. */
async function emptyLocation(
  name: string,
): Promise<{ env: Record<string, string>; open: () => Database }> {
  if (serverUrl) {
    const db = `meetpoint_backup_${name}_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
    admin ??= postgres(serverUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${db}`);
    databases.push(db);
    const url = new URL(serverUrl);
    url.pathname = `/${db}`;
    return {
      env: { DATABASE_URL: url.toString() },
      open: () => openDatabase({ url: url.toString(), dataDir: null }),
    };
  }
  const dataDir = join(dir, name);
  return {
    env: { DATABASE_URL: "", MEETPOINT_DATA_DIR: dataDir },
    open: () => openDatabase({ url: null, dataDir }),
  };
}

const cli = (args: string[], env: Record<string, string>) =>
  Bun.spawnSync(["bun", join(import.meta.dir, "../src/cli.ts"), ...args], {
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });

const openPki = async (database: Database, kekHex: string) =>
  Pki.open({
    db: database.db,
    kek: await loadKek({ hex: kekHex }),
    clock: new ManualClock(),
    policy: {
      technicianSeconds: 600,
      gatewaySeconds: 600,
      dataChannelSeconds: 30 * 86_400,
      clockSkewSeconds: 120,
    },
  });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "meetpoint-backup-"));
});
afterAll(async () => {
  if (admin) {
    for (const db of databases) await admin.unsafe(`drop database if exists ${db} with (force)`);
    await admin.end();
  }
  rmSync(dir, { recursive: true, force: true });
});

describe(`backup and restore (${serverUrl ? "PostgreSQL: pg_dump / pg_restore" : "PGlite data directory"})`, () => {
  test("a restored platform verifies its audit chain with the same head, and opens its CA only with the same KEK", async () => {
    const source = await emptyLocation("source");
    const original = source.open();
    await original.migrate();
    const pki = await openPki(original, KEK);
    const fingerprint = (await pki.status())[0]?.fingerprint;
    await createAdmin(original.db, new ManualClock(), { username: "admin", via: "test" });
    await createAdmin(original.db, new ManualClock(), { username: "second", via: "test" });
    const before = await verifyAuditChain(original.db);
    if (!before.ok) throw new Error(before.reason);
    await original.close();

    const file = join(dir, serverUrl ? "meetpoint.dump" : "meetpoint.tar.gz");
    const made = cli(["backup", "create", "--out", file], source.env);
    expect(made.stderr.toString()).toBe("");
    expect(made.exitCode).toBe(0);
    expect(made.stdout.toString()).toContain("It does not contain the KEK");
    expect(cli(["backup", "create", "--out", file], source.env).stderr.toString()).toContain(
      "exists already",
    );

    const target = await emptyLocation("target");
    const restored = cli(["backup", "restore", file], target.env);
    expect(restored.stderr.toString()).toBe("");
    expect(restored.exitCode).toBe(0);
    const verified = cli(["audit", "verify"], target.env);
    expect(verified.exitCode).toBe(0);
    expect(verified.stdout.toString()).toContain(
      `Audit chain intact: ${before.entries} entries, head ${before.headSeq} ${before.headHash}`,
    );
    // Restoring over a database that holds data is refused.
    const again = cli(["backup", "restore", file], target.env);
    expect(again.exitCode).toBe(2);
    expect(again.stderr.toString()).toContain("not empty");

    // Regression: the restored platform started without its KEK made a new random kek file,
    // then crashed with a stack trace — leaving the wrong key behind.
    const dataDir = target.env.MEETPOINT_DATA_DIR ?? join(dir, "target-files");
    const start = (env: Record<string, string>) => {
      const run = Bun.spawnSync(["bun", join(import.meta.dir, "../src/main.ts")], {
        env: {
          ...process.env,
          ...target.env,
          MEETPOINT_DATA_DIR: dataDir,
          MEETPOINT_KEK: "",
          MEETPOINT_HTTPS_PORT: String(20_000 + Math.floor(Math.random() * 20_000)),
          MEETPOINT_HTTP_PORT: "0",
          MEETPOINT_LISTEN_ADDRESS: "127.0.0.1",
          MEETPOINT_VPN_LISTEN: "off",
          ...env,
        },
        stdout: "pipe",
        stderr: "pipe",
      });
      return { code: run.exitCode, stderr: run.stderr.toString() };
    };
    const kekFile = join(dataDir, "kek");
    expect(start({})).toEqual({
      code: 2,
      stderr: `MEETPOINT_KEK_FILE: ${kekFile} is missing, but the database's CA and secrets are sealed with a key-encryption key: put the KEK that belongs to this database there (or set MEETPOINT_KEK). Restored from a backup? Use the KEK kept apart from it.\n`,
    });
    expect(existsSync(kekFile)).toBe(false);
    expect(start({ MEETPOINT_KEK: "00".repeat(32) })).toEqual({
      code: 2,
      stderr:
        "MEETPOINT_KEK: wrong key-encryption key — the database's CA was sealed with another one. Restored from a backup? Use the KEK kept apart from it.\n",
    });

    const back = target.open();
    try {
      expect((await (await openPki(back, KEK)).status())[0]?.fingerprint).toBe(fingerprint);
      await expect(openPki(back, "00".repeat(32))).rejects.toThrow("wrong key-encryption key");
    } finally {
      await back.close();
    }
  }, 120_000);

  test("regression: commands other than admin create, migrate and restore refuse a new, empty database", async () => {
    const empty = await emptyLocation("empty");
    const refused = cli(["audit", "verify"], empty.env);
    expect(refused.exitCode).toBe(2);
    expect(refused.stdout.toString()).toBe("");
    expect(refused.stderr.toString()).toMatch(
      /^(No database in MEETPOINT_DATA_DIR|The database at DATABASE_URL holds no Meetpoint tables)[^\n]*\n$/,
    );
    // Nothing was made: the next restore into it still finds it empty (see above).
    if (empty.env.MEETPOINT_DATA_DIR) expect(existsSync(empty.env.MEETPOINT_DATA_DIR)).toBe(false);
  }, 60_000);

  test.skipIf(serverUrl !== null)(
    "regression: restoring a file that is not a backup says so in one line and leaves nothing behind",
    () => {
      const garbage = join(dir, "garbage.tar.gz");
      writeFileSync(garbage, crypto.getRandomValues(new Uint8Array(4096)));
      const target = join(dir, "from-garbage");
      const restored = cli(["backup", "restore", garbage], {
        DATABASE_URL: "",
        MEETPOINT_DATA_DIR: target,
      });
      expect(restored.exitCode).toBe(2);
      expect(restored.stdout.toString()).toBe("");
      expect(restored.stderr.toString()).toBe(
        `${garbage}: not a backup of the embedded database (a tar.gz made by "backup create"): not gzip\n`,
      );
      expect(existsSync(target)).toBe(false);
      const missing = cli(["backup", "restore", `${garbage}.nothing`], {
        DATABASE_URL: "",
        MEETPOINT_DATA_DIR: target,
      });
      expect(missing.stderr.toString()).toBe(`${garbage}.nothing: no such file\n`);
      expect(existsSync(target)).toBe(false);
    },
    60_000,
  );
});
