// Crafted ID tokens from a provider that lies: every forgery or defect is refused, nothing is
// provisioned, and a failed sign-in is audited. A correctly made token passes the same path, so
// the refusals are the checks' doing, not the harness's.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, count, eq } from "drizzle-orm";
import { exportJWK, exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { tlsCertificate } from "../../lab/idp/provider.ts";
import { auditEntries, users } from "../src/db/index.ts";
import { createCustomer } from "../src/masterdata/index.ts";
import { CrossSiteBrowser, PORTAL } from "./support/oidc.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

let p: TestPlatform;
let server: ReturnType<typeof Bun.serve>;
let issuer: string;
let caPem: string;
let keys: CryptoKeyPair;
let stranger: CryptoKeyPair;
let nextIdToken: (nonce: string) => Promise<string>;

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const now = () => Math.floor(Date.now() / 1000);

function claims(nonce: string, overrides: JWTPayload = {}): JWTPayload {
  return {
    iss: issuer,
    aud: "meetpoint",
    sub: "forged-1",
    iat: now(),
    exp: now() + 300,
    nonce,
    amr: ["pwd", "otp"],
    groups: ["forge-techs"],
    preferred_username: "mallory",
    ...overrides,
  };
}

const signed = (payload: JWTPayload, key = keys.privateKey, kid = "k1") =>
  new SignJWT(payload).setProtectedHeader({ alg: "RS256", kid }).sign(key);

async function failures(): Promise<number> {
  const [row] = await p.database.db
    .select({ n: count() })
    .from(auditEntries)
    .where(and(eq(auditEntries.action, "sign_in"), eq(auditEntries.result, "failed")));
  return row?.n ?? 0;
}

beforeAll(async () => {
  p = await testPlatform();
  keys = await generateKeyPair("RS256", { extractable: true });
  stranger = await generateKeyPair("RS256", { extractable: true });
  const tls = tlsCertificate("127.0.0.1");
  caPem = tls.cert;
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: tls.cert, key: tls.key },
    fetch: async (request) => {
      const url = new URL(request.url);
      if (url.pathname === "/.well-known/openid-configuration")
        return Response.json({
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ["code"],
          subject_types_supported: ["public"],
          id_token_signing_alg_values_supported: ["RS256"],
          code_challenge_methods_supported: ["S256"],
        });
      if (url.pathname === "/jwks") return Response.json({ keys: [jwk] });
      if (url.pathname === "/token") {
        const form = new URLSearchParams(await request.text());
        // The nonce the platform sent is the one in the authorization request it made.
        return Response.json({
          access_token: "at",
          token_type: "Bearer",
          expires_in: 300,
          id_token: await nextIdToken(pendingNonce),
          _code: form.get("code"),
        });
      }
      if (url.pathname === "/authorize") {
        pendingNonce = url.searchParams.get("nonce") ?? "";
        return new Response("ok");
      }
      return new Response("not found", { status: 404 });
    },
  });
  issuer = `https://127.0.0.1:${server.port}`;
  const acme = await createCustomer(p.adminCtx, { name: "ACME" });
  await p.admin.get("/identity-providers");
  const created = await p.admin.post("/identity-providers", {
    slug: "forge",
    displayName: "Forge",
    issuer,
    clientId: "meetpoint",
    clientAuth: "client_secret_basic",
    clientSecret: "secret",
    scopes: "openid profile",
    groupsClaim: "groups",
    caPem,
  });
  const id = created.headers.get("location")?.split("/").pop() ?? "";
  await p.admin.get(`/identity-providers/${id}`);
  await p.admin.post(`/identity-providers/${id}/mappings`, {
    group: "forge-techs",
    role: "technician",
    customerId: acme.id,
  });
}, 60_000);

let pendingNonce = "";

afterAll(async () => {
  server?.stop(true);
  await p?.dispose();
});

/** The browser visits the authorization endpoint before the callback, as a real one would. */
async function flow(make: (nonce: string) => Promise<string>) {
  nextIdToken = make;
  const b = new CrossSiteBrowser(p.app, caPem);
  const start = await b.request(`${PORTAL}/sign-in/oidc/forge`);
  await b.request(start.location ?? "");
  const state = new URL(start.location ?? "").searchParams.get("state");
  return b.go(`${PORTAL}/sign-in/oidc/forge/callback?code=forged-code&state=${state}`);
}

describe("crafted ID tokens", () => {
  const cases: [string, (nonce: string) => Promise<string>, string][] = [
    [
      "alg none",
      async (n) => `${b64({ alg: "none", typ: "JWT" })}.${b64(claims(n))}.`,
      'unexpected JWT "alg"',
    ],
    [
      "HS256 signed with the provider's public key",
      async (n) => {
        const secret = new TextEncoder().encode(await exportSPKI(keys.publicKey));
        return new SignJWT(claims(n)).setProtectedHeader({ alg: "HS256", kid: "k1" }).sign(secret);
      },
      'unexpected JWT "alg"',
    ],
    ["wrong issuer", (n) => signed(claims(n, { iss: "https://evil.example" })), '"iss" (issuer)'],
    ["wrong audience", (n) => signed(claims(n, { aud: "someone-else" })), '"aud" (audience)'],
    [
      "expired",
      (n) => signed(claims(n, { iat: now() - 900, exp: now() - 600 })),
      "expiration is past",
    ],
    [
      "not valid before a future time",
      (n) => signed(claims(n, { nbf: now() + 600 })),
      '"nbf" (not before)',
    ],
    [
      "unknown key id",
      (n) => signed(claims(n), stranger.privateKey, "k2"),
      "no applicable keys found",
    ],
    [
      "signed by another key under the known key id",
      (n) => signed(claims(n), stranger.privateKey, "k1"),
      "JWT signature verification failed",
    ],
    [
      "missing nonce",
      (n) => signed(claims(n, { nonce: undefined })),
      '"nonce" (nonce) claim missing',
    ],
    ["mismatched nonce", (n) => signed(claims(`${n}x`)), 'unexpected ID Token "nonce"'],
  ];

  for (const [name, make, reason] of cases) {
    test(`${name}: refused, nothing provisioned, audited`, async () => {
      const before = await failures();
      const page = await flow(make);
      expect(page.status).toBe(401);
      expect(page.html).toContain("could not be verified, so it was refused");
      expect(page.html.replaceAll("&quot;", '"')).toContain(reason);
      expect(await failures()).toBe(before + 1);
      const [mallory] = await p.database.db
        .select()
        .from(users)
        .where(eq(users.username, "mallory@forge"));
      expect(mallory).toBeUndefined();
    });
  }

  test("the same path accepts a correctly made token", async () => {
    const page = await flow((n) => signed(claims(n)));
    expect(page.url).toBe(`${PORTAL}/machines`);
    const [mallory] = await p.database.db
      .select()
      .from(users)
      .where(eq(users.username, "mallory@forge"));
    expect(mallory?.displayName).toBe("mallory");
  });
});
