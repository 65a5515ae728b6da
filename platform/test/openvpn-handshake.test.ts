// The platform's certificates against a real openvpn in network namespaces: accepted when they
// should be, refused for every kind of wrong certificate and whenever the CRL is not usable.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderClientProfile } from "@meetpoint/common";
import { labSkipReason, link, Netns, OutputLog, waitFor } from "@meetpoint/lab";
import { EC_KEY, SIGNING, toPem } from "../src/pki/ca.ts";
import { type IssuedCredentials, loadKek, Pki, SERVER_NAME } from "../src/pki/index.ts";
import { x509 } from "../src/pki/x509.ts";
import { ManualClock } from "../src/shared/index.ts";
import { type TestDatabase, testDatabase } from "./support/database.ts";

const skip = labSkipReason(["openvpn"]);
const SERVER_ADDRESS = "198.18.200.1";
const policy = {
  technicianSeconds: 600,
  gatewaySeconds: 600,
  dataChannelSeconds: 30 * 86_400,
  clockSkewSeconds: 120,
};

let dir: string;
let databases: TestDatabase[] = [];
let pki: Pki;
let server: Netns;
let client: Netns;
let serverLog: OutputLog;
let trust: { ca: string; crl: string; tlsCrypt: string };

async function openPki(clock = new ManualClock(new Date()), database?: TestDatabase): Promise<Pki> {
  const db = database ?? (await testDatabase());
  if (!database) databases.push(db);
  return Pki.open({ db: db.db, kek: await loadKek({ hex: "22".repeat(32) }), clock, policy });
}

/** Connects with `credentials`; true when the tunnel came up, false when it was refused. */
async function connects(
  credentials: { certificatePem: string; privateKeyPem: string },
  timeoutMs = 8000,
): Promise<boolean> {
  const name = `client-${crypto.randomUUID().slice(0, 8)}.ovpn`;
  const profile = renderClientProfile({
    remotes: [{ host: SERVER_ADDRESS, port: 1194, protocol: "tcp" }],
    serverName: SERVER_NAME,
    caPem: await pki.trustBundlePem(),
    certificatePem: credentials.certificatePem,
    privateKeyPem: credentials.privateKeyPem,
    tlsCryptKey: pki.tlsCryptKey,
    routes: [],
  });
  writeFileSync(join(dir, name), profile, { mode: 0o600 });
  const before = serverLog.text.length;
  const child = client.spawn(["openvpn", "--config", join(dir, name), "--hand-window", "8"]);
  const log = new OutputLog(child);
  const refused = () =>
    /VERIFY ERROR|VERIFY KU ERROR|VERIFY EKU ERROR|TLS Error|CRL/.test(
      serverLog.text.slice(before),
    );
  await waitFor(() => log.has("Initialization Sequence Completed") || refused(), timeoutMs);
  const ok = log.has("Initialization Sequence Completed");
  child.kill("SIGKILL");
  await child.exited;
  return ok;
}

describe.skipIf(skip !== null)("openvpn handshake with platform certificates", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "meetpoint-handshake-"));
    const database = await testDatabase();
    databases.push(database);
    pki = await Pki.open({
      db: database.db,
      kek: await loadKek({ hex: "22".repeat(32) }),
      clock: new ManualClock(new Date()),
      policy,
      trustDir: join(dir, "trust"),
    });
    trust = {
      ca: join(dir, "trust/ca.pem"),
      crl: join(dir, "trust/crl.pem"),
      tlsCrypt: join(dir, "trust/tls-crypt.key"),
    };
    const serverCert = await pki.issueServerCertificate(3600);
    writeFileSync(join(dir, "server.pem"), serverCert.certificatePem);
    writeFileSync(join(dir, "server.key"), serverCert.privateKeyPem, { mode: 0o600 });
    // A minimal hardened server for this test; the platform's own server config is the data plane's.
    const config = [
      "mode server",
      "tls-server",
      "proto tcp-server",
      `local ${SERVER_ADDRESS}`,
      "port 1194",
      "dev tun",
      "topology subnet",
      "ifconfig 100.127.254.1 255.255.255.0",
      "ifconfig-pool 100.127.254.10 100.127.254.200",
      `ca ${trust.ca}`,
      `cert ${join(dir, "server.pem")}`,
      `key ${join(dir, "server.key")}`,
      "dh none",
      `tls-crypt ${trust.tlsCrypt}`,
      `crl-verify ${trust.crl}`,
      "remote-cert-tls client",
      "tls-version-min 1.2",
      "data-ciphers AES-256-GCM:CHACHA20-POLY1305",
      "script-security 1",
      "verb 3",
    ].join("\n");
    writeFileSync(join(dir, "server.conf"), config);
    server = Netns.create("hs-srv");
    client = Netns.create("hs-cli");
    link(server, `${SERVER_ADDRESS}/30`, client, "198.18.200.2/30");
    serverLog = new OutputLog(server.spawn(["openvpn", "--config", join(dir, "server.conf")]));
    const started = await waitFor(() => serverLog.has("Initialization Sequence Completed"), 10_000);
    if (!started) throw new Error(`openvpn server did not start:\n${serverLog.text}`);
  }, 60_000);

  afterAll(async () => {
    server?.destroy();
    client?.destroy();
    for (const database of databases) await database.dispose();
    databases = [];
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const technician = () => pki.issueClientCertificate("technician", crypto.randomUUID());

  test("a technician certificate and a gateway certificate connect", async () => {
    expect(await connects(await technician())).toBe(true);
    expect(await connects(await pki.issueClientCertificate("gateway", crypto.randomUUID()))).toBe(
      true,
    );
  }, 30_000);

  test("a certificate from another CA is refused", async () => {
    const rogue = await openPki();
    expect(
      await connects(await rogue.issueClientCertificate("technician", crypto.randomUUID())),
    ).toBe(false);
  }, 30_000);

  test("a self-signed certificate with a real certificate's subject is refused", async () => {
    const real = await technician();
    const keys = (await crypto.subtle.generateKey(EC_KEY, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const forged = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: real.serial,
      name: real.subject,
      notBefore: real.notBefore,
      notAfter: real.notAfter,
      signingAlgorithm: SIGNING,
      keys,
      extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])],
    });
    const credentials = {
      certificatePem: forged.toString("pem"),
      privateKeyPem: toPem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", keys.privateKey)),
    };
    expect(await connects(credentials)).toBe(false);
  }, 30_000);

  test("a server certificate used as a client certificate is refused", async () => {
    expect(await connects(await pki.issueServerCertificate(3600))).toBe(false);
  }, 30_000);

  test("expired and not yet valid certificates are refused", async () => {
    const database = databases[0] as TestDatabase;
    const past = await openPki(new ManualClock(new Date(Date.now() - 3 * 3600_000)), database);
    expect(
      await connects(await past.issueClientCertificate("technician", crypto.randomUUID())),
    ).toBe(false);
    const future = await openPki(new ManualClock(new Date(Date.now() + 3 * 3600_000)), database);
    expect(
      await connects(await future.issueClientCertificate("technician", crypto.randomUUID())),
    ).toBe(false);
  }, 30_000);

  test("a revoked certificate is refused at once: revoking rewrites the CRL", async () => {
    const owner = crypto.randomUUID();
    const credentials: IssuedCredentials = await pki.issueClientCertificate("technician", owner);
    const other = await pki.issueClientCertificate("technician", crypto.randomUUID());
    await pki.revoke({ ownerId: owner }, "session ended");
    expect(await connects(credentials)).toBe(false);
    expect(await connects(other)).toBe(true);
  }, 30_000);

  test("an unreadable or stale CRL makes connections fail", async () => {
    writeFileSync(trust.crl, "-----BEGIN X509 CRL-----\ngarbage\n-----END X509 CRL-----\n");
    expect(await pki.trustFilesProblem(trust)).toContain("unreadable CRL");
    expect(await connects(await technician())).toBe(false);

    const stale = await openPki(new ManualClock(new Date(Date.now() - 3 * 3600_000)), databases[0]);
    await Bun.sleep(1100); // a new mtime second, so openvpn reloads
    writeFileSync(trust.crl, await stale.crlPem());
    expect(await pki.trustFilesProblem(trust)).toContain("is stale");
    expect(await connects(await technician())).toBe(false);

    await pki.refreshTrustFiles();
    expect(await pki.trustFilesProblem(trust)).toBeNull();
    expect(await connects(await technician())).toBe(true);
  }, 60_000);

  test("a missing CRL: openvpn will not start; while it runs, the platform's check reports it", async () => {
    const config = join(dir, "no-crl.conf");
    writeFileSync(
      config,
      (await Bun.file(join(dir, "server.conf")).text())
        .replace("port 1194", "port 1195")
        .replace(`crl-verify ${trust.crl}`, `crl-verify ${join(dir, "absent-crl.pem")}`),
    );
    const refused = server.spawn(["openvpn", "--config", config]);
    const log = new OutputLog(refused);
    expect(await Promise.race([refused.exited, Bun.sleep(10_000).then(() => "running")])).not.toBe(
      "running",
    );
    expect(log.text).toContain("crl-verify fails");

    // openvpn keeps its last good CRL when the file vanishes (valid one hour at most, see
    // CRL_VALIDITY_MS); the platform refuses connections meanwhile on this check.
    unlinkSync(trust.crl);
    expect(await pki.trustFilesProblem(trust)).toContain("is missing");
    await pki.refreshTrustFiles();
    expect(await pki.trustFilesProblem(trust)).toBeNull();
  }, 60_000);
});
