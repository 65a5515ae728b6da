// Backup and restore on the engine the suite runs on (PGlite, or PostgreSQL with DATABASE_URL):
// a backup restored into a fresh database gives a platform whose audit chain verifies with the
// same head — and whose CA opens only with the same KEK.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
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

    const back = target.open();
    try {
      expect((await (await openPki(back, KEK)).status())[0]?.fingerprint).toBe(fingerprint);
      await expect(openPki(back, "00".repeat(32))).rejects.toThrow("wrong key-encryption key");
    } finally {
      await back.close();
    }
  }, 120_000);
});
