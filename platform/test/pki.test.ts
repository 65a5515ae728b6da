// The PKI on a real database, checked with openssl: CA at rest, one-time certificates, CRL, rotation.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { certificateAuthorities, issuedCertificates } from "../src/db/index.ts";
import { developmentTlsCertificate, loadKek, Pki } from "../src/pki/index.ts";
import { x509 } from "../src/pki/x509.ts";
import { ManualClock } from "../src/shared/index.ts";

import { type TestDatabase, testDatabase } from "./support/database.ts";

let database: TestDatabase;
let dir: string;
let pki: Pki;
const clock = new ManualClock(new Date());
const policy = {
  technicianSeconds: 600,
  gatewaySeconds: 900,
  dataChannelSeconds: 30 * 86_400,
  clockSkewSeconds: 120,
};
const sessionId = "0b6f2a5e-8c1d-4e2f-9a3b-4c5d6e7f8a9b";

beforeAll(async () => {
  database = await testDatabase();
  dir = mkdtempSync(join(tmpdir(), "meetpoint-pki-"));
  pki = await Pki.open({
    db: database.db,
    kek: await loadKek({ file: join(dir, "kek") }),
    clock,
    policy,
  });
}, 60_000);
afterAll(async () => {
  await database.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** openssl, checking validity at the test clock's time (it runs ahead of the real one here). */
function openssl(...args: string[]): { ok: boolean; out: string } {
  const at =
    args[0] === "verify" ? ["-attime", String(Math.floor(clock.now().getTime() / 1000))] : [];
  const run = Bun.spawnSync(["openssl", args[0] ?? "", ...at, ...args.slice(1)], {
    stderr: "pipe",
  });
  return { ok: run.exitCode === 0, out: run.stdout.toString() + run.stderr.toString() };
}

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe("CA at rest", () => {
  test("the KEK file is created with mode 0600; the CA key is stored only sealed", async () => {
    expect(statSync(join(dir, "kek")).mode & 0o777).toBe(0o600);
    const [row] = await database.db.select().from(certificateAuthorities);
    expect(row?.encryptedKey).not.toContain("PRIVATE KEY");
    expect(row?.encryptedKey).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const again = await Pki.open({
      db: database.db,
      kek: await loadKek({ file: join(dir, "kek") }),
      clock,
      policy,
    });
    expect(again.activeCa.id).toBe(pki.activeCa.id);
  });

  test("a wrong key-encryption key cannot open the CA", async () => {
    const wrong = await loadKek({ hex: "ab".repeat(32) });
    await expect(Pki.open({ db: database.db, kek: wrong, clock, policy })).rejects.toThrow(
      "wrong key-encryption key",
    );
  });

  test("a KEK file that is not 64 hex characters is refused", async () => {
    await expect(loadKek({ file: file("bad-kek", "not a key\n") })).rejects.toThrow(
      "expected 64 hex characters",
    );
  });
});

describe("certificates", () => {
  test("technician and gateway certificates: clientAuth, id-only subject, minutes of validity, back-dated", async () => {
    const ca = file("ca.pem", await pki.trustBundlePem());
    const technician = await pki.issueClientCertificate("technician", sessionId);
    const leaf = file("tech.pem", technician.certificatePem);
    expect(openssl("verify", "-purpose", "sslclient", "-CAfile", ca, leaf).out).toContain(": OK");
    expect(openssl("verify", "-purpose", "sslserver", "-CAfile", ca, leaf).ok).toBe(false);
    const text = openssl("x509", "-noout", "-text", "-in", leaf).out;
    expect(text).toContain(`CN = technician.${sessionId}`);
    expect(text).toContain("TLS Web Client Authentication");
    expect(text).toContain("ASN1 OID: prime256v1");
    expect(technician.notAfter.getTime() - technician.notBefore.getTime()).toBe((600 + 120) * 1000);
    expect(
      Math.abs(technician.notBefore.getTime() - (clock.now().getTime() - 120_000)),
    ).toBeLessThan(1000);

    const gateway = await pki.issueClientCertificate("gateway", sessionId);
    expect(gateway.notAfter.getTime() - gateway.notBefore.getTime()).toBe((900 + 120) * 1000);
    expect(
      openssl(
        "verify",
        "-purpose",
        "sslclient",
        "-CAfile",
        ca,
        file("gw.pem", gateway.certificatePem),
      ).out,
    ).toContain(": OK");
  });

  test("a one-time certificate parses back to exactly what was issued; its key pair matches", async () => {
    const owner = crypto.randomUUID();
    const issued = await pki.issueClientCertificate("gateway", owner);
    const parsed = new x509.X509Certificate(issued.certificatePem);
    expect(parsed.serialNumber.toLowerCase()).toBe(issued.serial);
    expect(parsed.subject).toBe(`CN=gateway.${owner}, OU=gateway, O=Meetpoint`);
    expect(parsed.issuer).toBe(pki.activeCa.certificate.subject);
    expect(parsed.notBefore).toEqual(issued.notBefore);
    expect(parsed.notAfter).toEqual(issued.notAfter);
    expect(
      await parsed.verify({ publicKey: pki.activeCa.certificate.publicKey, signatureOnly: true }),
    ).toBe(true);
    const privateKey = await crypto.subtle.importKey(
      "pkcs8",
      Buffer.from(issued.privateKeyPem.replace(/-----[^-]+-----|\s/g, ""), "base64"),
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["sign"],
    );
    const data = new TextEncoder().encode("proof of possession");
    const signature = await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      privateKey,
      data,
    );
    const publicKey = await parsed.publicKey.export();
    expect(
      await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, publicKey, signature, data),
    ).toBe(true);
  });

  test("server certificates: serverAuth and the fixed server name", async () => {
    const server = await pki.issueServerCertificate(3600);
    const text = openssl(
      "x509",
      "-noout",
      "-text",
      "-in",
      file("server.pem", server.certificatePem),
    ).out;
    expect(text).toContain("CN = meetpoint-server");
    expect(text).toContain("TLS Web Server Authentication");
    expect(
      openssl(
        "verify",
        "-purpose",
        "sslserver",
        "-CAfile",
        file("ca.pem", await pki.trustBundlePem()),
        join(dir, "server.pem"),
      ).ok,
    ).toBe(true);
  });

  test("serials are unique, random and recorded", async () => {
    const serials = new Set<string>();
    for (let i = 0; i < 50; i++)
      serials.add((await pki.issueClientCertificate("technician", sessionId)).serial);
    expect(serials.size).toBe(50);
    for (const serial of serials) expect(serial).toMatch(/^[1-7][0-9a-f]{31}$/);
    const rows = await database.db.select().from(issuedCertificates);
    expect(rows.filter((r) => serials.has(r.serial))).toHaveLength(50);
  });

  test("the development HTTPS certificate names its hosts", async () => {
    const tls = await developmentTlsCertificate(pki, ["platform.lab.test", "198.18.1.1"]);
    const text = openssl("x509", "-noout", "-text", "-in", file("dev.pem", tls.certificatePem)).out;
    expect(text).toContain("DNS:platform.lab.test");
    expect(text).toContain("IP Address:198.18.1.1");
    expect(tls.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });
});

describe("one-time use", () => {
  test("first connection spends it; renegotiation of that connection passes; any other is a replay", async () => {
    const cert = await pki.issueClientCertificate("technician", sessionId);
    expect(await pki.authorize(cert.serial, "openvpn-0:1")).toEqual({
      ok: true,
      kind: "technician",
      ownerId: sessionId,
      renegotiation: false,
    });
    expect(await pki.authorize(cert.serial, "openvpn-0:1")).toMatchObject({
      ok: true,
      renegotiation: true,
    });
    expect(await pki.authorize(cert.serial, "openvpn-0:2")).toEqual({
      ok: false,
      reason: expect.stringContaining("already used"),
    });
  });

  test("two simultaneous connects with one certificate: exactly one wins", async () => {
    const cert = await pki.issueClientCertificate("technician", sessionId);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => pki.authorize(cert.serial, `openvpn-0:${100 + i}`)),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });

  test("serials in OpenVPN's colon form are recognised", async () => {
    const cert = await pki.issueClientCertificate("gateway", sessionId);
    const colon = cert.serial.toUpperCase().match(/../g)?.join(":") ?? "";
    expect((await pki.authorize(colon, "openvpn-0:200")).ok).toBe(true);
  });

  test("unknown, server, expired, not yet valid and revoked certificates are refused", async () => {
    expect(await pki.authorize("123456789abcdef", "c")).toEqual({
      ok: false,
      reason: "unknown certificate",
    });
    const server = await pki.issueServerCertificate(3600);
    expect(await pki.authorize(server.serial, "c")).toEqual({
      ok: false,
      reason: "not a client certificate",
    });

    const expiring = await pki.issueClientCertificate("technician", sessionId);
    const early = new ManualClock(new Date(clock.now().getTime() - 10 * 60_000));
    const earlyPki = await Pki.open({
      db: database.db,
      kek: await loadKek({ file: join(dir, "kek") }),
      clock: early,
      policy,
    });
    expect(await earlyPki.authorize(expiring.serial, "c")).toEqual({
      ok: false,
      reason: "not yet valid",
    });
    clock.advance(601_000);
    expect(await pki.authorize(expiring.serial, "c")).toEqual({ ok: false, reason: "expired" });

    const revoked = await pki.issueClientCertificate("technician", sessionId);
    expect(await pki.revoke({ serials: [revoked.serial] }, "session ended by admin")).toBe(1);
    expect(await pki.authorize(revoked.serial, "c")).toEqual({
      ok: false,
      reason: "revoked (session ended by admin)",
    });
  });
});

describe("revocation list", () => {
  test("lists revoked serials of each trusted CA; openssl then refuses those certificates", async () => {
    const owner = "1b6f2a5e-8c1d-4e2f-9a3b-4c5d6e7f8a9b";
    const keep = await pki.issueClientCertificate("technician", sessionId);
    const gone = await pki.issueClientCertificate("technician", owner);
    expect(await pki.revoke({ ownerId: owner }, "session ended")).toBe(1);
    const files = await pki.writeTrustFiles(join(dir, "trust"));
    const crl = openssl("crl", "-noout", "-text", "-in", files.crl).out;
    expect(crl.toLowerCase()).toContain(gone.serial.toUpperCase().toLowerCase());
    expect(crl).toContain("Next Update");
    expect(openssl("crl", "-noout", "-CAfile", files.ca, "-in", files.crl).out).toContain(
      "verify OK",
    );
    const check = (pem: string) =>
      openssl(
        "verify",
        "-crl_check",
        "-CAfile",
        files.ca,
        "-CRLfile",
        files.crl,
        file("check.pem", pem),
      );
    expect(check(keep.certificatePem).out).toContain(": OK");
    expect(check(gone.certificatePem).out).toContain("certificate revoked");
    expect(statSync(files.tlsCrypt).mode & 0o777).toBe(0o600);
  });
});

describe("CA rotation", () => {
  test("the new CA signs; the old one verifies until its certificates expire, then retires", async () => {
    const old = pki.activeCa;
    const before = await pki.issueClientCertificate("technician", sessionId);
    const next = await pki.rotateCa({ id: null, name: "test", ip: null });
    expect(pki.activeCa.id).toBe(next.id);
    const after = await pki.issueClientCertificate("technician", sessionId);
    let bundle = file("bundle.pem", await pki.trustBundlePem());
    expect(
      openssl("verify", "-CAfile", bundle, file("before.pem", before.certificatePem)).out,
    ).toContain(": OK");
    expect(
      openssl("verify", "-CAfile", bundle, file("after.pem", after.certificatePem)).out,
    ).toContain(": OK");
    const status = await pki.status();
    expect(status.map((s) => [s.id, s.active, s.trusted])).toEqual([
      [next.id, true, true],
      [old.id, false, true],
    ]);
    // Everything of the old CA expires (the HTTPS development certificate last, after 30 days).
    clock.advance(31 * 86_400_000);
    bundle = file("bundle.pem", await pki.trustBundlePem());
    expect(openssl("verify", "-CAfile", bundle, join(dir, "before.pem")).ok).toBe(false);
    expect((await pki.status()).find((s) => s.id === old.id)?.trusted).toBe(false);
  });
});
