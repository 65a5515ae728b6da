// Enrollment bundles from the portal, checked the way a gateway checks them; re-keying; the CA page.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { verifyEnrollmentBundle } from "@meetpoint/common";
import { count, eq } from "drizzle-orm";
import { auditEntries, gateways } from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import { createCustomer, createSite } from "../src/masterdata/index.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { firstSignIn } from "./support/portal.ts";

let p: TestPlatform;
let siteId: string;
beforeAll(async () => {
  p = await testPlatform();
  const customer = await createCustomer(p.adminCtx, { name: "ACME" });
  siteId = (await createSite(p.adminCtx, customer.id, { name: "Plant" })).id;
}, 60_000);
afterAll(() => p.dispose());

/** The bundle file and the secret, as the one-time page offers them. */
function credentials(html: string) {
  const href = html.match(
    /download="(meetpoint-enrollment-[0-9a-f-]+\.jws)" href="data:application\/jose;base64,([A-Za-z0-9+/=]+)"/,
  );
  const secret = html.match(/<div class="secret">([A-Za-z0-9_-]{43})<\/div>/)?.[1];
  if (!href?.[2] || !secret) throw new Error("no bundle or secret on the page");
  return { fileName: href[1], token: Buffer.from(href[2], "base64").toString(), secret };
}

async function auditCount(action: string) {
  const [row] = await p.database.db
    .select({ n: count() })
    .from(auditEntries)
    .where(eq(auditEntries.action, action));
  return row?.n ?? 0;
}

describe("enrollment bundle", () => {
  let gatewayId: string;
  let first: ReturnType<typeof credentials>;
  let firstVersion: number;

  test("creating a gateway offers a signed bundle once, with everything the gateway needs", async () => {
    await p.admin.get(`/sites/${siteId}`);
    const response = await p.admin.postShownOnce(`/sites/${siteId}/gateways`, { name: "Hall 1" });
    expect(response.headers.get("cache-control")).toBe("no-store");
    first = credentials(await response.text());
    const result = await verifyEnrollmentBundle(first.token, { pinned: null, now: p.clock.now() });
    if (!result.ok) throw new Error(result.reason);
    gatewayId = result.claims.body.gatewayId;
    firstVersion = result.claims.version;
    expect(first.fileName).toBe(`meetpoint-enrollment-${gatewayId}.jws`);
    expect(result.claims.body).toEqual({
      platformUrl: "https://platform.lab.test",
      gatewayId,
      secret: first.secret,
      caCertificates: await p.pki.trustBundlePem(),
      signingKey: p.pki.signingJwk,
      // What the operator is shown at import: the gateway as the portal names it.
      gatewayName: "Hall 1",
      siteName: "Plant",
      customerName: "ACME",
    });
    expect(result.claims.expiresAt.getTime() - p.clock.now().getTime()).toBeGreaterThan(
      6.9 * 86_400_000,
    );
    const [row] = await p.database.db.select().from(gateways).where(eq(gateways.id, gatewayId));
    expect(row?.secretHash).toBe(createHash("sha256").update(first.secret).digest("hex"));
    expect(await p.admin.page(`/gateways/${gatewayId}`)).not.toContain("data:application/jose");
    expect(await auditCount("gateway.enrollment_bundle")).toBe(1);
  });

  test("re-keying: a newer bundle verifies against the pinned key; the old secret and bundle are worthless", async () => {
    const response = await p.admin.postShownOnce(`/gateways/${gatewayId}/rekey`);
    const second = credentials(await response.text());
    expect(second.secret).not.toBe(first.secret);
    const pinned = { gatewayId, signingKey: p.pki.signingJwk, version: firstVersion };
    const result = await verifyEnrollmentBundle(second.token, { pinned, now: p.clock.now() });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const rollback = await verifyEnrollmentBundle(first.token, {
      pinned: { ...pinned, version: result.claims.version },
      now: p.clock.now(),
    });
    expect(rollback).toMatchObject({
      ok: false,
      reason: expect.stringContaining("rollback refused"),
    });
    const [row] = await p.database.db.select().from(gateways).where(eq(gateways.id, gatewayId));
    expect(row?.secretHash).toBe(createHash("sha256").update(second.secret).digest("hex"));
    expect(await auditCount("gateway.rekey")).toBe(1);
  });

  test("a bundle imported after its validity is refused", async () => {
    const later = new Date(p.clock.now().getTime() + 8 * 86_400_000);
    expect(await verifyEnrollmentBundle(first.token, { pinned: null, now: later })).toMatchObject({
      ok: false,
      reason: expect.stringContaining("expired"),
    });
  });
});

describe("CA status page", () => {
  test("shows fingerprint, validity and counts; rotation is for platform admins and audited", async () => {
    const page = await p.admin.page("/pki");
    expect(page).toContain("active (signs)");
    expect(page).toMatch(/SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    expect(page).toContain("Introduce a new CA");
    await p.pki.issueClientCertificate("technician", crypto.randomUUID());
    expect((await p.admin.post("/pki/rotate")).status).toBe(303);
    expect(await p.admin.page("/pki")).toContain("previous (still verifies)");
    expect(await auditCount("ca.rotate")).toBe(1);
  });

  test("an auditor reads it but cannot rotate; a technician cannot see it", async () => {
    const auditor = await createUser(p.adminCtx, { username: "auditor-pki", displayName: "A" });
    await grantRole(p.adminCtx, auditor.user.id, { role: "auditor" });
    const a = (await firstSignIn(p.app, p.database.db, p.clock, "auditor-pki", auditor.password))
      .browser;
    expect(await a.page("/pki")).not.toContain("Introduce a new CA");
    expect((await a.post("/pki/rotate")).status).toBe(403);
    const tech = await createUser(p.adminCtx, { username: "tech-pki", displayName: "T" });
    const t = (await firstSignIn(p.app, p.database.db, p.clock, "tech-pki", tech.password)).browser;
    expect((await t.get("/pki")).status).toBe(403);
    expect(await auditCount("ca.rotate")).toBe(1);
  });
});
