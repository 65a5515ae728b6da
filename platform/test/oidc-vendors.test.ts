// Identity providers as they are configured in the field: discovery documents shaped like
// Keycloak's, Entra ID's, Auth0's and authentik's, each entered in the portal as its admin would,
// and a technician signing in through each. Regressions: Keycloak (ES384 listed first) and Auth0
// (HS256 first) had their RS256 tokens refused; authentik's issuer lost its trailing slash; Entra
// ID's group overage read as "no role (groups: none)".
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { identityProviders, users } from "../src/db/index.ts";
import { createCustomer } from "../src/masterdata/index.ts";
import { CrossSiteBrowser, PORTAL } from "./support/oidc.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import {
  type ProviderKey,
  providerKey,
  startVendorIdp,
  type Vendor,
  type VendorIdp,
} from "./support/vendor-idp.ts";

let p: TestPlatform;
let acme: string;
const started: VendorIdp[] = [];

beforeAll(async () => {
  p = await testPlatform();
  acme = (await createCustomer(p.adminCtx, { name: "ACME" })).id;
}, 60_000);

afterAll(async () => {
  for (const idp of started) idp.stop();
  await p?.dispose();
});

/** The provider form as an admin fills it in for `idp`, issuer exactly as the vendor writes it. */
function providerForm(slug: string, idp: VendorIdp, extra: Record<string, string> = {}) {
  return {
    slug,
    displayName: `${idp.vendor} sign-in`,
    issuer: idp.issuer,
    clientId: idp.clientId,
    clientAuth: "client_secret_basic",
    clientSecret: idp.clientSecret,
    scopes: "openid profile",
    groupsClaim: "groups",
    mfaAmr: "",
    mfaAcr: "",
    caPem: idp.caPem,
    idTokenAlg: "",
    ...extra,
  };
}

/** Starts a provider of `vendor` and enters it in the portal with one group → technician mapping. */
async function entered(
  vendor: Vendor,
  slug: string,
  keys: ProviderKey[],
  options: { algorithms?: string[]; form?: Record<string, string>; group?: string } = {},
) {
  const idp = await startVendorIdp(vendor, keys, options);
  started.push(idp);
  await p.admin.get("/identity-providers");
  const created = await p.admin.post("/identity-providers", providerForm(slug, idp, options.form));
  expect(created.status).toBe(303);
  const id = created.headers.get("location")?.split("/").pop() ?? "";
  await p.admin.get(`/identity-providers/${id}`);
  const mapped = await p.admin.post(`/identity-providers/${id}/mappings`, {
    group: options.group ?? "plant-service",
    role: "technician",
    customerId: acme,
  });
  expect(mapped.status).toBe(303);
  return { idp, id };
}

/** A technician clicks "Sign in with …"; the provider answers with what `mint` makes. */
async function signIn(idp: VendorIdp, slug: string, mint: VendorIdp["mint"]) {
  idp.mint = mint;
  return new CrossSiteBrowser(p.app, idp.caPem).go(`${PORTAL}/sign-in/oidc/${slug}`);
}

const technician = (sub: string, extra: Record<string, unknown> = {}) => ({
  sub,
  preferred_username: sub,
  name: `Technician ${sub}`,
  amr: ["pwd", "mfa"],
  groups: ["plant-service"],
  ...extra,
});

const unquote = (html: string) => html.replaceAll("&quot;", '"').replaceAll("&#39;", "'");

describe("Keycloak: ES384 listed first, HS256 listed, realm key RS256", () => {
  let idp: VendorIdp;
  let rsa: ProviderKey;
  let ec: ProviderKey;

  beforeAll(async () => {
    rsa = await providerKey("RS256", "realm-rs256", { alg: "RS256" });
    ec = await providerKey("ES256", "realm-es256", { alg: "ES256" });
    ({ idp } = await entered("keycloak", "keycloak", [rsa, ec]));
  });

  test("an RS256 ID token signs the technician in", async () => {
    const page = await signIn(idp, "keycloak", (n) => idp.sign(rsa, n, technician("kc-rs")));
    expect(page.url).toBe(`${PORTAL}/machines`);
  });

  test("an ES256 ID token (listed, and its key in the JWKS) signs in too", async () => {
    const page = await signIn(idp, "keycloak", (n) => idp.sign(ec, n, technician("kc-es")));
    expect(page.url).toBe(`${PORTAL}/machines`);
  });

  test("HS256 is listed, but an HMAC token made with the client secret is refused", async () => {
    const secret = new TextEncoder().encode(idp.clientSecret);
    const page = await signIn(idp, "keycloak", (n) =>
      idp.sign({ alg: "HS256", secret }, n, technician("kc-hs")),
    );
    expect(page.status).toBe(401);
    expect(unquote(page.html)).toContain('unexpected JWT "alg"');
  });

  test("ES384 is listed, but the JWKS holds no P-384 key: refused", async () => {
    const p384 = await providerKey("ES384", "realm-es256");
    const page = await signIn(idp, "keycloak", (n) => idp.sign(p384, n, technician("kc-384")));
    expect(page.status).toBe(401);
    expect(page.html).toContain("could not be verified");
  });

  test("an admin pins RS256: from then on an ES256 token is refused, an RS256 one passes", async () => {
    const [row] = await p.database.db
      .select()
      .from(identityProviders)
      .where(eq(identityProviders.slug, "keycloak"));
    await p.admin.get(`/identity-providers/${row?.id}`);
    const saved = await p.admin.post(
      `/identity-providers/${row?.id}`,
      providerForm("keycloak", idp, { clientSecret: "", idTokenAlg: "RS256" }),
    );
    expect(saved.status).toBe(303);
    expect(await p.admin.page(`/identity-providers/${row?.id}`)).toContain(
      '<option value="RS256" selected="">Only RS256</option>',
    );
    const refused = await signIn(idp, "keycloak", (n) => idp.sign(ec, n, technician("kc-es")));
    expect(refused.status).toBe(401);
    expect(unquote(refused.html)).toContain('unexpected JWT "alg"');
    const passed = await signIn(idp, "keycloak", (n) => idp.sign(rsa, n, technician("kc-rs")));
    expect(passed.url).toBe(`${PORTAL}/machines`);
  });
});

describe("Auth0: issuer with a trailing slash, HS256 listed first", () => {
  test("an RS256 ID token signs the technician in", async () => {
    const key = await providerKey("RS256", "auth0-1", { alg: "RS256" });
    const { idp } = await entered("auth0", "auth0", [key]);
    expect(idp.issuer.endsWith("/")).toBe(true);
    const page = await signIn(idp, "auth0", (n) => idp.sign(key, n, technician("auth0|a1")));
    expect(page.url).toBe(`${PORTAL}/machines`);
  });

  test("the issuer entered without its slash: refused, saying how the provider spells it", async () => {
    const key = await providerKey("RS256", "auth0-2", { alg: "RS256" });
    const idp = await startVendorIdp("auth0", [key]);
    started.push(idp);
    await p.admin.get("/identity-providers");
    const created = await p.admin.post(
      "/identity-providers",
      providerForm("auth0-noslash", idp, { issuer: idp.issuer.replace(/\/$/, "") }),
    );
    expect(created.status).toBe(303);
    const page = await signIn(idp, "auth0-noslash", (n) => idp.sign(key, n, technician("x")));
    expect(page.status).toBe(401);
    expect(unquote(page.html)).toContain(`calls itself "${idp.issuer}"`);
  });
});

describe("authentik: per-application issuer ending in a slash", () => {
  test("the issuer is kept exactly as entered, and an ES256 ID token signs in", async () => {
    const key = await providerKey("ES256", "authentik-1");
    const { idp, id } = await entered("authentik", "authentik", [key]);
    const [row] = await p.database.db
      .select()
      .from(identityProviders)
      .where(eq(identityProviders.id, id));
    expect(row?.issuer).toBe(idp.issuer);
    expect(row?.issuer.endsWith("/application/o/meetpoint/")).toBe(true);
    const page = await signIn(idp, "authentik", (n) => idp.sign(key, n, technician("ak-1")));
    expect(page.url).toBe(`${PORTAL}/machines`);
  });

  test("a provider without a signing key (HS256 only) is refused with what to change", async () => {
    const key = await providerKey("ES256", "authentik-2");
    const { idp } = await entered("authentik", "authentik-hs", [key], { algorithms: ["HS256"] });
    const page = await signIn(idp, "authentik-hs", (n) => idp.sign(key, n, technician("ak-2")));
    expect(page.status).toBe(401);
    expect(page.html).toContain("not set up correctly");
    expect(page.html).toContain("give the provider");
  });
});

describe("Microsoft Entra ID: tenant issuer, groups as object ids, group overage", () => {
  let idp: VendorIdp;
  let key: ProviderKey;
  const groupId = "5f7c2a4e-0b8f-4d61-9a3c-2e1d7b6a9c01";

  beforeAll(async () => {
    key = await providerKey("RS256", "entra-1", { x5t: "entra-1" });
    ({ idp } = await entered("entra", "entra", [key], { group: groupId }));
  });

  test("a token with the group's object id signs the technician in", async () => {
    const page = await signIn(idp, "entra", (n) =>
      idp.sign(key, n, technician("entra-sub-1", { groups: [groupId], tid: "t" })),
    );
    expect(page.url).toBe(`${PORTAL}/machines`);
  });

  test("group overage (_claim_names instead of groups): refused with what the admin must change", async () => {
    const { groups: _none, ...claims } = technician("entra-sub-2");
    const page = await signIn(idp, "entra", (n) =>
      idp.sign(key, n, {
        ...claims,
        _claim_names: { groups: "src1" },
        _claim_sources: {
          src1: {
            endpoint: "https://graph.microsoft.com/v1.0/users/entra-sub-2/getMemberObjects",
          },
        },
      }),
    );
    expect(page.status).toBe(401);
    const html = unquote(page.html);
    expect(html).toContain("group overage");
    expect(html).toContain("group filtering");
    expect(html).toContain("app roles");
    expect(html).not.toContain("groups: none");
    const [user] = await p.database.db
      .select()
      .from(users)
      .where(eq(users.username, "entra-sub-2@entra"));
    expect(user).toBeUndefined();
  });
});
