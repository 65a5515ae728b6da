// Technicians sign in at their company's identity provider — here the lab's real OpenID Provider —
// through the browser flow: roles from groups, the MFA policy, session hygiene, refresh, logout,
// and the refusals (used state, reused code, no role, MFA not asserted, unknown provider).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, count, desc, eq } from "drizzle-orm";
import { type LabIdp, startLabIdp } from "../../lab/idp/provider.ts";
import { auditEntries, roleAssignments, users } from "../src/db/index.ts";
import { totpCode } from "../src/identity/index.ts";
import { createCustomer } from "../src/masterdata/index.ts";
import { CrossSiteBrowser, enterLabProvider, PORTAL } from "./support/oidc.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

let p: TestPlatform;
let idp: LabIdp;
let providerId: string;
let acme: string;

const browser = () => new CrossSiteBrowser(p.app, idp.caPem);

async function failedSignIns(): Promise<number> {
  const [row] = await p.database.db
    .select({ n: count() })
    .from(auditEntries)
    .where(and(eq(auditEntries.action, "sign_in"), eq(auditEntries.result, "failed")));
  return row?.n ?? 0;
}

async function userNamed(username: string) {
  const [user] = await p.database.db.select().from(users).where(eq(users.username, username));
  return user;
}

beforeAll(async () => {
  p = await testPlatform();
  acme = (await createCustomer(p.adminCtx, { name: "ACME" })).id;
  const provider = await enterLabProvider(p, {
    portal: PORTAL,
    users: [
      {
        username: "tina",
        password: "tina-pw",
        name: "Tina Technician",
        groups: ["acme-service", "acme-auditors"],
        amr: ["pwd", "otp"],
      },
      {
        username: "paul",
        password: "paul-pw",
        name: "Paul Password",
        groups: ["acme-service"],
        amr: ["pwd"],
      },
      {
        username: "adam",
        password: "adam-pw",
        name: "Adam Admin",
        groups: ["meetpoint-admins"],
        amr: ["pwd"],
      },
      {
        username: "nora",
        password: "nora-pw",
        name: "Nora Nobody",
        groups: ["canteen"],
        amr: ["pwd", "otp"],
      },
    ],
    // The admin configures the provider and its mappings in the portal.
    mappings: [
      { group: "acme-service", role: "technician", customerId: acme },
      { group: "acme-auditors", role: "auditor" },
      { group: "meetpoint-admins", role: "platform_admin" },
    ],
  });
  ({ idp, providerId } = provider);
  const { created } = provider;
  expect(created.status).toBe(303);
  for (const mapped of provider.mapped) {
    expect(mapped.status).toBe(303);
  }
}, 60_000);

afterAll(async () => {
  await idp?.stop();
  await p?.dispose();
});

describe("sign-in through the lab identity provider", () => {
  test("the sign-in page offers the provider beside local accounts", async () => {
    const page = await browser().go(`${PORTAL}/sign-in`);
    expect(page.html).toContain('href="/sign-in/oidc/lab"');
    expect(page.html).toContain("Sign in with ACME Service ID");
    expect(page.html).toContain('name="password"');
  });

  test("a technician whose provider asserted MFA lands in the portal with the mapped roles", async () => {
    const b = browser();
    const page = await b.signInAt("lab", "tina", "tina-pw");
    expect(page.url).toBe(`${PORTAL}/machines`);
    expect(page.html).toContain("Tina Technician");
    const user = await userNamed("tina@lab");
    expect(user).toMatchObject({
      displayName: "Tina Technician",
      identityProviderId: providerId,
      passwordHash: null,
    });
    const grants = await p.database.db
      .select()
      .from(roleAssignments)
      .where(eq(roleAssignments.userId, user?.id ?? ""));
    expect(grants.map((g) => [g.role, g.customerId]).sort()).toEqual([
      ["auditor", null],
      ["technician", acme],
    ]);
    // The authorization request carried PKCE (S256), state and nonce.
    const authorize = new URL(b.visited.find((u) => u.includes("/auth?")) ?? "");
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize.searchParams.get("state")?.length).toBeGreaterThan(20);
    expect(authorize.searchParams.get("nonce")?.length).toBeGreaterThan(20);
  });

  test("the callback URL works once: replaying it is refused and audited", async () => {
    const b = browser();
    await b.signInAt("lab", "tina", "tina-pw");
    const callback = b.visited.find((u) => u.includes("/callback?")) ?? "";
    const before = await failedSignIns();
    const replay = await b.go(callback);
    expect(replay.status).toBe(401);
    expect(replay.html).toContain("already used or has expired");
    expect(await failedSignIns()).toBe(before + 1);
  });

  test("a code used once is refused when presented again with a fresh state", async () => {
    const b = browser();
    await b.signInAt("lab", "tina", "tina-pw");
    const code = new URL(b.visited.find((u) => u.includes("/callback?")) ?? "").searchParams.get(
      "code",
    );
    const fresh = await b.request(`${PORTAL}/sign-in/oidc/lab`);
    const state = new URL(fresh.location ?? "").searchParams.get("state");
    const reused = await b.go(
      `${PORTAL}/sign-in/oidc/lab/callback?code=${code}&state=${state}&iss=${encodeURIComponent(idp.issuer)}`,
    );
    expect(reused.status).toBe(401);
    expect(reused.html).toContain("could not be verified");
    expect(reused.html).toContain("invalid_grant");
  });

  test("a state started in another browser is refused", async () => {
    const victim = browser();
    const attacker = browser();
    const started = await attacker.request(`${PORTAL}/sign-in/oidc/lab`);
    const state = new URL(started.location ?? "").searchParams.get("state");
    const page = await victim.go(`${PORTAL}/sign-in/oidc/lab/callback?code=x&state=${state}`);
    expect(page.status).toBe(401);
  });

  test("no mapped group: refused with the reason, nothing provisioned", async () => {
    const page = await browser().signInAt("lab", "nora", "nora-pw");
    expect(page.status).toBe(401);
    expect(page.html).toContain("has no role in Meetpoint (groups: canteen)");
    expect(await userNamed("nora@lab")).toBeUndefined();
  });

  test("a provider that asserted no MFA: TOTP in Meetpoint, or refused where the role demands it", async () => {
    const b = browser();
    const page = await b.signInAt("lab", "paul", "paul-pw");
    expect(page.url).toBe(`${PORTAL}/account/totp`);
    const user = await userNamed("paul@lab");
    const key = user?.totpKey ?? "";
    const csrf = page.html.match(/name="_csrf" value="([^"]+)"/)?.[1] ?? "";
    const done = await b.go(`${PORTAL}/account/totp`, {
      form: { _csrf: csrf, code: totpCode(key, p.clock.now()) },
    });
    expect(done.url).toBe(`${PORTAL}/machines`);

    await p.admin.get("/identity-providers");
    await p.admin.post("/identity-providers/mfa-policy", {
      role: "technician",
      policy: "provider",
    });
    const refused = await browser().signInAt("lab", "paul", "paul-pw");
    expect(refused.status).toBe(401);
    expect(refused.html).toContain("did not confirm a second factor");
    await p.admin.post("/identity-providers/mfa-policy", {
      role: "technician",
      policy: "provider_or_totp",
    });
  });

  test("platform admins always need a second factor", async () => {
    const page = await browser().signInAt("lab", "adam", "adam-pw");
    expect(page.url).toBe(`${PORTAL}/account/totp`);
  });

  test("signing in replaces the browser's session: the cookie from before is worthless", async () => {
    const b = browser();
    await b.signInAt("lab", "tina", "tina-pw");
    const before = b.cookie(PORTAL, "__Host-meetpoint") ?? "";
    await b.signInAt("lab", "tina", "tina-pw");
    const after = b.cookie(PORTAL, "__Host-meetpoint") ?? "";
    expect(after).not.toBe(before);
    const stale = browser();
    stale.setCookie(PORTAL, "__Host-meetpoint", before);
    expect((await stale.go(`${PORTAL}/machines`)).url).toBe(`${PORTAL}/sign-in`);
  });

  test("only platform admins see and change identity providers", async () => {
    const b = browser();
    await b.signInAt("lab", "tina", "tina-pw");
    expect((await b.go(`${PORTAL}/identity-providers`)).status).toBe(403);
    expect((await b.go(`${PORTAL}/identity-providers/${providerId}`)).status).toBe(403);
    const audit = await p.database.db
      .select({ action: auditEntries.action })
      .from(auditEntries)
      .where(eq(auditEntries.action, "identity_provider.create"));
    expect(audit.length).toBe(1);
  });

  test("private_key_jwt: the provider accepts the key Meetpoint made and showed", async () => {
    await p.admin.get("/identity-providers");
    const form = {
      slug: "jwt",
      displayName: "ACME Keys",
      issuer: "https://127.0.0.1:1",
      clientId: "meetpoint-jwt",
      clientAuth: "private_key_jwt",
      clientSecret: "",
      scopes: "openid profile groups",
      groupsClaim: "groups",
      caPem: "",
    };
    const created = await p.admin.post("/identity-providers", form);
    const id = created.headers.get("location")?.split("/").pop() ?? "";
    const page = await p.admin.page(`/identity-providers/${id}`);
    const shown = page.match(/<dd class="mono">(\{[^<]+\})<\/dd>/)?.[1]?.replaceAll("&quot;", '"');
    const jwk = JSON.parse(shown ?? "{}");
    expect(jwk).toMatchObject({ kty: "EC", crv: "P-256", use: "sig" });
    expect(jwk.d).toBeUndefined();
    const keyed = await startLabIdp({
      users: [
        {
          username: "kim",
          password: "kim-pw",
          name: "Kim",
          groups: ["acme-service"],
          amr: ["otp"],
        },
      ],
      clients: [
        {
          clientId: "meetpoint-jwt",
          jwks: { keys: [jwk] },
          redirectUris: [`${PORTAL}/sign-in/oidc/jwt/callback`],
        },
      ],
    });
    try {
      await p.admin.post(`/identity-providers/${id}`, {
        ...form,
        issuer: keyed.issuer,
        caPem: keyed.caPem,
      });
      await p.admin.post(`/identity-providers/${id}/mappings`, {
        group: "acme-service",
        role: "technician",
        customerId: acme,
      });
      const signedIn = await new CrossSiteBrowser(p.app, keyed.caPem).signInAt(
        "jwt",
        "kim",
        "kim-pw",
      );
      expect(signedIn.url).toBe(`${PORTAL}/machines`);
    } finally {
      await keyed.stop();
    }
  });

  test("a provider that cannot be reached: a signed-out visitor sees no address or system error", async () => {
    // Regression: the sign-in page showed "cannot reach Lab IdP (https://127.0.0.1:28999):
    // ECONNREFUSED: Unable to connect…" to anyone.
    const { createProvider, setProviderEnabled } = await import("../src/identity/index.ts");
    const { freePort } = await import("./support/rsyslog.ts");
    const port = await freePort();
    const down = await createProvider(p.adminCtx, p.pki, {
      slug: "down",
      displayName: "Down IdP",
      issuer: `https://127.0.0.1:${port}`,
      clientId: "meetpoint",
      clientAuth: "client_secret_basic",
      clientSecret: "s3cret",
    });
    await setProviderEnabled(p.adminCtx, down.id, true);
    const page = await browser().go(`${PORTAL}/sign-in/oidc/down`);
    expect(page.status).toBe(401);
    expect(page.html).toContain("Sign-in with Down IdP is not available right now.");
    expect(page.html).not.toContain(String(port));
    expect(page.html).not.toMatch(/ECONNREFUSED|Unable to connect|127\.0\.0\.1/);
    // The details are in the audit entry, for the administrators.
    const [entry] = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, "sign_in"))
      .orderBy(desc(auditEntries.seq))
      .limit(1);
    expect(JSON.stringify(entry?.detail)).toContain(`127.0.0.1:${port}`);
  });

  test("a callback for a provider that is not configured is refused", async () => {
    const page = await browser().go(`${PORTAL}/sign-in/oidc/elsewhere/callback?code=x&state=y`);
    expect(page.status).toBe(401);
    expect(page.html).toContain("This sign-in option does not exist.");
  });

  test("a role removed from the mapping goes at the next sign-in, and the user's other sessions end", async () => {
    const first = browser();
    await first.signInAt("lab", "tina", "tina-pw");
    expect((await first.go(`${PORTAL}/machines`)).status).toBe(200);
    const { mapping } = (
      await p.database.db.query.identityProviderMappings.findMany({
        where: (m, { eq }) => eq(m.group, "acme-auditors"),
      })
    ).map((m) => ({ mapping: m }))[0] ?? { mapping: null };
    await p.admin.get(`/identity-providers/${providerId}`);
    await p.admin.post(`/identity-providers/${providerId}/mappings/${mapping?.id}/delete`);
    const second = browser();
    await second.signInAt("lab", "tina", "tina-pw");
    expect((await first.go(`${PORTAL}/machines`)).url).toBe(`${PORTAL}/sign-in`);
    const user = await userNamed("tina@lab");
    const grants = await p.database.db
      .select()
      .from(roleAssignments)
      .where(eq(roleAssignments.userId, user?.id ?? ""));
    expect(grants.map((g) => g.role)).toEqual(["technician"]);
  });

  test("the portal session lives only while the provider renews it", async () => {
    const b = browser();
    await b.signInAt("lab", "tina", "tina-pw");
    p.clock.advance(301_000);
    expect((await b.go(`${PORTAL}/machines`)).url).toBe(`${PORTAL}/machines`);
    idp.disable("tina");
    p.clock.advance(301_000);
    expect((await b.go(`${PORTAL}/machines`)).url).toBe(`${PORTAL}/sign-in`);
    const user = idp.users.get("tina");
    if (user) user.disabled = false;
  });

  test("sign-out ends the session here and at the provider", async () => {
    const b = browser();
    await b.signInAt("lab", "tina", "tina-pw");
    const page = await b.go(`${PORTAL}/machines`);
    const csrf = page.html.match(/name="_csrf" value="([^"]+)"/)?.[1] ?? "";
    const out = await b.request(`${PORTAL}/sign-out`, { form: { _csrf: csrf } });
    expect(out.status).toBe(303);
    const logout = new URL(out.location ?? "");
    expect(logout.origin).toBe(idp.issuer);
    expect(logout.searchParams.get("id_token_hint")).toBeTruthy();
    expect(logout.searchParams.get("post_logout_redirect_uri")).toBe(`${PORTAL}/sign-in`);
    expect((await b.go(`${PORTAL}/machines`)).url).toBe(`${PORTAL}/sign-in`);
  });

  test("a user disabled in Meetpoint is out at the next request", async () => {
    const b = browser();
    await b.signInAt("lab", "tina", "tina-pw");
    const user = await userNamed("tina@lab");
    await p.database.db
      .update(users)
      .set({ disabledAt: p.clock.now() })
      .where(eq(users.id, user?.id ?? ""));
    expect((await b.go(`${PORTAL}/machines`)).url).toBe(`${PORTAL}/sign-in`);
    const again = await browser().signInAt("lab", "tina", "tina-pw");
    expect(again.status).toBe(401);
    expect(again.html).toContain("disabled");
  });
});
