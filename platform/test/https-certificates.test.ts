// The certificates the platform serves over HTTPS, over days: the development certificate keeps its
// fingerprint across restarts and is renewed 10 days before it ends; a renewed certificate is
// served without a restart and without refusing a single connection; a workspace supervisor handed
// the served certificate reports to it, by IP, until the certificate is swapped.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { createReporter } from "@meetpoint/workspace/src/report.ts";
import { DevelopmentCertificate } from "../src/pki/index.ts";
import { HttpsListener, queuedConnectionsMigrate } from "../src/web/index.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

const DAY = 86_400_000;
let p: TestPlatform;
let dir: string;

beforeAll(async () => {
  p = await testPlatform();
  dir = mkdtempSync(join(tmpdir(), "meetpoint-https-"));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await p.dispose();
});

/** The SHA-256 fingerprint (AB:CD:…) of the certificate a TLS server on `port` presents. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on("error", reject);
  });
}

describe("the development HTTPS certificate", () => {
  test("regression: it keeps its fingerprint across restarts (the README has users compare it)", async () => {
    const first = await new DevelopmentCertificate(p.pki, p.clock, dir, [
      "platform.lab.test",
    ]).current();
    const again = await new DevelopmentCertificate(p.pki, p.clock, dir, [
      "platform.lab.test",
    ]).current();
    expect(again.fingerprint).toBe(first.fingerprint);
  });

  test("8 days on it is kept; with less than 10 days left it is renewed, and kept from then on", async () => {
    const certificate = new DevelopmentCertificate(p.pki, p.clock, dir, ["platform.lab.test"]);
    const first = await certificate.current();
    p.clock.advance(8 * DAY);
    expect(await certificate.renewIfDue()).toBeNull();
    p.clock.advance(13 * DAY); // 21 days in: 9 left
    const renewed = await certificate.renewIfDue();
    expect(renewed?.fingerprint).not.toBe(first.fingerprint);
    expect((renewed?.notAfter.getTime() ?? 0) - p.clock.now().getTime()).toBeGreaterThan(29 * DAY);
    p.clock.advance(10 * DAY); // 31 days in: the first one has ended, the renewed one serves
    expect(await certificate.renewIfDue()).toBeNull();
    const restarted = await new DevelopmentCertificate(p.pki, p.clock, dir, [
      "platform.lab.test",
    ]).current();
    expect(restarted.fingerprint).toBe(renewed?.fingerprint ?? "");
  });

  test("a new public host name gets a certificate that names it", async () => {
    const kept = await new DevelopmentCertificate(p.pki, p.clock, dir, [
      "platform.lab.test",
    ]).current();
    const moved = await new DevelopmentCertificate(p.pki, p.clock, dir, [
      "portal.example.test",
    ]).current();
    expect(moved.fingerprint).not.toBe(kept.fingerprint);
  });
});

describe("the HTTPS listener", () => {
  test("a renewed certificate is served at once, with no connection refused during the swap", async () => {
    // Connections queued for the old listener as it closes survive only where the kernel hands
    // them over (net.ipv4.tcp_migrate_req = 1): CI sets it, as compose.yaml does for the platform.
    if (process.env.CI === "true") expect(queuedConnectionsMigrate()).toBe(true);
    const a = await new DevelopmentCertificate(p.pki, p.clock, mkdtempSync(join(dir, "a-")), [
      "a.test",
    ]).current();
    const b = await new DevelopmentCertificate(p.pki, p.clock, mkdtempSync(join(dir, "b-")), [
      "b.test",
    ]).current();
    const listener = new HttpsListener(
      { port: 0, hostname: "127.0.0.1", idleTimeout: 10, fetch: () => new Response("ok") },
      { cert: a.certificatePem, key: a.privateKeyPem },
    );
    try {
      expect(await servedFingerprint(listener.port)).toBe(a.fingerprint);
      const requests = Array.from({ length: 50 }, (_, i) =>
        Bun.sleep(i).then(() =>
          fetch(`https://127.0.0.1:${listener.port}/`, { tls: { rejectUnauthorized: false } }).then(
            (r) => r.status,
          ),
        ),
      );
      await Bun.sleep(10);
      listener.swap({ cert: b.certificatePem, key: b.privateKeyPem });
      expect(new Set(await Promise.all(requests))).toEqual(new Set([200]));
      expect(await servedFingerprint(listener.port)).toBe(b.fingerprint);
    } finally {
      listener.stop();
    }
  });

  test("a supervisor pinning the served development certificate reports by an IP it does not name; after a swap only with the new one", async () => {
    // The TLS client checks validity against the real time; the tests above moved p.clock on.
    p.clock.advance(Date.now() - p.clock.now().getTime());
    const a = await new DevelopmentCertificate(p.pki, p.clock, mkdtempSync(join(dir, "c-")), [
      "portal.example.test",
    ]).current();
    const b = await new DevelopmentCertificate(p.pki, p.clock, mkdtempSync(join(dir, "d-")), [
      "portal.example.test",
    ]).current();
    let reports = 0;
    const listener = new HttpsListener(
      {
        port: 0,
        // Not among the development certificate's names (localhost, 127.0.0.1 and the public one),
        // like the workspace network's gateway address.
        hostname: "127.0.0.2",
        idleTimeout: 10,
        fetch: () => {
          reports += 1;
          return new Response(null, { status: 204 });
        },
      },
      { cert: a.certificatePem, key: a.privateKeyPem },
    );
    const url = `https://127.0.0.2:${listener.port}/api/workspace-report`;
    const report = async (certificate: string) => {
      const lines: string[] = [];
      await createReporter({ url, token: "t0ken-0123456789", certificate }, (l) =>
        lines.push(l),
      ).tick();
      return lines;
    };
    try {
      const pinnedA = listener.certificate;
      expect(pinnedA).toBe(a.certificatePem);
      expect(await report(pinnedA)).toEqual([]);
      expect(reports).toBe(1);
      listener.swap({ cert: b.certificatePem, key: b.privateKeyPem });
      // Same CA, but not the pinned leaf: refused whatever it names.
      expect(await report(pinnedA)).toEqual([
        expect.stringContaining("not the platform's pinned certificate"),
      ]);
      expect(reports).toBe(1);
      expect(await report(listener.certificate)).toEqual([]);
      expect(reports).toBe(2);
    } finally {
      listener.stop();
    }
  });
});
