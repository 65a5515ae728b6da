import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { certificateAuthorities } from "../src/db/index.ts";
import { developmentTlsCertificate, loadKek, loadOrCreateCa } from "../src/pki/index.ts";
import { ManualClock } from "../src/shared/clock.ts";
import { type TestDatabase, testDatabase } from "./support/database.ts";

let database: TestDatabase;
let dir: string;
beforeAll(async () => {
  database = await testDatabase();
  dir = mkdtempSync(join(tmpdir(), "meetpoint-pki-"));
}, 60_000);
afterAll(async () => {
  await database.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("internal CA", () => {
  test("is created once, stored with its key encrypted, and loaded again", async () => {
    const clock = new ManualClock(new Date());
    const kek = await loadKek({ file: join(dir, "kek") });
    expect(statSync(join(dir, "kek")).mode & 0o777).toBe(0o600);
    const first = await loadOrCreateCa(database.db, kek, clock);
    const second = await loadOrCreateCa(database.db, kek, clock);
    expect(second.id).toBe(first.id);
    const [row] = await database.db.select().from(certificateAuthorities);
    expect(row?.encryptedKey).not.toContain("PRIVATE KEY");
    expect(row?.encryptedKey).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });

  test("a wrong key-encryption key cannot open the CA", async () => {
    const wrong = await loadKek({ hex: "ab".repeat(32) });
    await expect(loadOrCreateCa(database.db, wrong, new ManualClock(new Date()))).rejects.toThrow(
      "wrong key-encryption key",
    );
  });

  test("a KEK file that is not 64 hex characters is refused", async () => {
    writeFileSync(join(dir, "bad-kek"), "not a key\n");
    await expect(loadKek({ file: join(dir, "bad-kek") })).rejects.toThrow(
      "expected 64 hex characters",
    );
  });

  test("the development TLS certificate verifies against the CA with openssl", async () => {
    const clock = new ManualClock(new Date());
    const ca = await loadOrCreateCa(database.db, await loadKek({ file: join(dir, "kek") }), clock);
    const tls = await developmentTlsCertificate(ca, ["platform.lab.test", "198.18.1.1"], clock);
    const [leaf, caPem] = tls.certificatePem.split(/(?<=-----END CERTIFICATE-----\n)/);
    writeFileSync(join(dir, "leaf.pem"), leaf ?? "");
    writeFileSync(join(dir, "ca.pem"), caPem ?? "");
    const verify = Bun.spawnSync([
      "openssl",
      "verify",
      "-purpose",
      "sslserver",
      "-CAfile",
      join(dir, "ca.pem"),
      join(dir, "leaf.pem"),
    ]);
    expect(verify.stdout.toString()).toContain(": OK");
    const text = Bun.spawnSync([
      "openssl",
      "x509",
      "-noout",
      "-text",
      "-in",
      join(dir, "leaf.pem"),
    ]).stdout.toString();
    expect(text).toContain("DNS:platform.lab.test");
    expect(text).toContain("IP Address:198.18.1.1");
    expect(text).toContain("TLS Web Server Authentication");
    expect(tls.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });
});
