// The technician's company: a platform admin sets it in the user form (create and edit, audited,
// 400 naming the field when too long), or the identity provider's company claim sets it at each
// sign-in (audited only when it changes). Approvers see it beside the name: the portal's pending
// requests and Sessions, the gateway's pending requests (heartbeat), the request's audit entry and
// the transparency report.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { auditEntries, gatewaySessions, users } from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import {
  createCustomer,
  createGateway,
  createMachine,
  createService,
  createSite,
} from "../src/masterdata/index.ts";
import { transparencyReport } from "../src/reports/index.ts";
import { dataChannelProfile, gatewayCall, serialOf } from "./support/gateway.ts";
import { CrossSiteBrowser, PORTAL } from "./support/oidc.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { type Browser, firstSignIn } from "./support/portal.ts";
import {
  type ProviderKey,
  providerKey,
  startVendorIdp,
  type VendorIdp,
} from "./support/vendor-idp.ts";

let p: TestPlatform;
let customerId: string;

async function userNamed(username: string) {
  const [user] = await p.database.db.select().from(users).where(eq(users.username, username));
  return user;
}

async function entriesOf(action: string, userId: string) {
  return p.database.db
    .select()
    .from(auditEntries)
    .where(and(eq(auditEntries.action, action), eq(auditEntries.targetId, userId)));
}

beforeAll(async () => {
  p = await testPlatform();
  customerId = (await createCustomer(p.adminCtx, { name: "ACME" })).id;
}, 60_000);

afterAll(async () => {
  await p?.dispose();
});

describe("the user form", () => {
  test("create with a company: stored trimmed, listed, audited in user.create", async () => {
    await p.admin.get("/users");
    const created = await p.admin.post("/users", {
      username: "carla",
      displayName: "Carla Contractor",
      company: "  Acme Service GmbH  ",
    });
    expect(created.status).toBe(303);
    const user = await userNamed("carla");
    expect(user?.company).toBe("Acme Service GmbH");
    const [entry] = await entriesOf("user.create", user?.id ?? "");
    expect(entry?.detail).toMatchObject({ company: "Acme Service GmbH" });
    const list = await (await p.admin.get("/users")).text();
    expect(list).toContain("Acme Service GmbH");
  });

  test("a company over 200 characters or with an invisible formatting character: 400 naming the field, nothing stored", async () => {
    await p.admin.get("/users");
    const long = await p.admin.post("/users", {
      username: "longco",
      displayName: "Long Company",
      company: "x".repeat(201),
    });
    expect(long.status).toBe(400);
    expect(await long.text()).toContain(
      '<li data-field="company">Company: must have at most 200 characters',
    );
    expect(await userNamed("longco")).toBeUndefined();
    // Exactly 200 is allowed.
    await p.admin.get("/users");
    expect(
      (
        await p.admin.post("/users", {
          username: "longco",
          displayName: "Long Company",
          company: "y".repeat(200),
        })
      ).status,
    ).toBe(303);
    expect((await userNamed("longco"))?.company).toBe("y".repeat(200));

    const user = await userNamed("carla");
    await p.admin.get(`/users/${user?.id}`);
    const bidi = await p.admin.post(`/users/${user?.id}`, {
      displayName: "Carla Contractor",
      company: "Acme\u202eHbmG",
    });
    expect(bidi.status).toBe(400);
    expect(await bidi.text()).toContain(
      '<li data-field="company">Company: must not contain invisible formatting characters',
    );
    expect((await userNamed("carla"))?.company).toBe("Acme Service GmbH");
  });

  test("edit: the company changes, audited as user.update with before and after; empty means not recorded", async () => {
    const user = await userNamed("carla");
    const id = user?.id ?? "";
    const page = await (await p.admin.get(`/users/${id}`)).text();
    expect(page).toContain('value="Acme Service GmbH"');
    const saved = await p.admin.post(`/users/${id}`, {
      displayName: "Carla Contractor",
      company: "Beta Automation AG",
    });
    expect(saved.status).toBe(303);
    expect((await userNamed("carla"))?.company).toBe("Beta Automation AG");
    const [entry] = await entriesOf("user.update", id);
    expect(entry?.detail).toMatchObject({
      before: { company: "Acme Service GmbH" },
      after: { company: "Beta Automation AG" },
    });

    await p.admin.get(`/users/${id}`);
    expect(
      (await p.admin.post(`/users/${id}`, { displayName: "Carla Contractor", company: "" })).status,
    ).toBe(303);
    expect((await userNamed("carla"))?.company).toBeNull();
    expect(await (await p.admin.get("/users")).text()).toContain("not recorded");
    // A foreign id: 404.
    await p.admin.get(`/users/${id}`);
    expect(
      (
        await p.admin.post("/users/00000000-0000-4000-8000-000000000000", {
          displayName: "X",
          company: "Y",
        })
      ).status,
    ).toBe(404);
  });
});

describe("the identity provider's company claim", () => {
  let idp: VendorIdp;
  let key: ProviderKey;
  let providerId: string;

  beforeAll(async () => {
    key = await providerKey("RS256", "entra-1", { x5t: "entra-1" });
    idp = await startVendorIdp("entra", [key]);
    await p.admin.get("/identity-providers");
    const created = await p.admin.post("/identity-providers", {
      slug: "entra",
      displayName: "Entra sign-in",
      issuer: idp.issuer,
      clientId: idp.clientId,
      clientAuth: "client_secret_basic",
      clientSecret: idp.clientSecret,
      scopes: "openid profile",
      groupsClaim: "groups",
      companyClaim: "companyName",
      mfaAmr: "",
      mfaAcr: "",
      caPem: idp.caPem,
      idTokenAlg: "",
    });
    expect(created.status).toBe(303);
    providerId = created.headers.get("location")?.split("/").pop() ?? "";
    await p.admin.get(`/identity-providers/${providerId}`);
    const mapped = await p.admin.post(`/identity-providers/${providerId}/mappings`, {
      group: "plant-service",
      role: "technician",
      customerId,
    });
    expect(mapped.status).toBe(303);
  });

  afterAll(() => idp?.stop());

  const signIn = async (claims: Record<string, unknown>) => {
    idp.mint = (nonce) =>
      idp.sign(key, nonce, {
        sub: "ext-1",
        preferred_username: "ext-1",
        name: "Erik External",
        amr: ["pwd", "mfa"],
        groups: ["plant-service"],
        ...claims,
      });
    return new CrossSiteBrowser(p.app, idp.caPem).go(`${PORTAL}/sign-in/oidc/entra`);
  };

  test("the form keeps the claim name, and refuses one that is not a claim name (400 naming the field)", async () => {
    const form = await (await p.admin.get(`/identity-providers/${providerId}`)).text();
    expect(form).toContain('value="companyName"');
    await p.admin.get("/identity-providers");
    const bad = await p.admin.post("/identity-providers", {
      slug: "bad",
      displayName: "Bad",
      issuer: idp.issuer,
      clientId: "x",
      clientAuth: "client_secret_basic",
      clientSecret: "s",
      companyClaim: "company name",
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain(
      '<li data-field="companyClaim">Company claim: must be a claim name',
    );
  });

  test("first sign-in sets the company; the same again writes nothing; a change (array: first string) is audited; absent or not a string leaves it", async () => {
    expect((await signIn({ companyName: "Acme Field Service" })).url).toBe(`${PORTAL}/machines`);
    const user = await userNamed("ext-1@entra");
    const id = user?.id ?? "";
    expect(user?.company).toBe("Acme Field Service");
    const [provisioned] = await entriesOf("user.provision", id);
    expect(provisioned?.detail).toMatchObject({ company: "Acme Field Service" });

    await signIn({ companyName: "Acme Field Service" });
    expect(await entriesOf("user.company_sync", id)).toHaveLength(0);

    await signIn({ companyName: [42, "Beta Service", "Gamma"] });
    expect((await userNamed("ext-1@entra"))?.company).toBe("Beta Service");
    const syncs = await entriesOf("user.company_sync", id);
    expect(syncs.map((s) => s.detail)).toEqual([
      {
        provider: "entra",
        claim: "companyName",
        before: "Acme Field Service",
        after: "Beta Service",
      },
    ]);

    await signIn({});
    await signIn({ companyName: 7 });
    await signIn({ companyName: "Evil\u202eCorp" });
    expect((await userNamed("ext-1@entra"))?.company).toBe("Beta Service");
    expect(await entriesOf("user.company_sync", id)).toHaveLength(1);
  });
});

describe("approvers see the company", () => {
  type Place = { siteId: string; gatewayId: string; secret: string; machineId: string };
  let plant: Place;
  let tech: Browser;
  let custAdmin: Browser;
  let techId: string;

  function gatewayApi(path: string, body: unknown) {
    return gatewayCall(p, plant, path, body);
  }

  async function heartbeat() {
    const [channel] = await p.database.db
      .select()
      .from(gatewaySessions)
      .where(eq(gatewaySessions.gatewayId, plant.gatewayId));
    const response = await gatewayApi("/heartbeat", {
      state: "online",
      gatewaySessionId: channel?.id ?? null,
      agentVersion: "0.1.0",
      openvpnVersion: "2.6.12",
      localTime: p.clock.now().toISOString(),
      lastError: null,
      capabilities: ["consent-requests"],
    });
    expect(response.status).toBe(200);
    return (await response.json()) as {
      pendingRequests?: { id: string; technician: string; company: string | null }[];
    };
  }

  async function signedIn(
    username: string,
    company: string,
    grant: Parameters<typeof grantRole>[2],
  ) {
    const { user, password } = await createUser(p.adminCtx, {
      username,
      displayName: username.toUpperCase(),
      company,
    });
    await grantRole(p.adminCtx, user.id, grant);
    const { browser } = await firstSignIn(p.app, p.database.db, p.clock, username, password);
    return { id: user.id, browser };
  }

  async function ask(): Promise<string> {
    await tech.get(`/machines/${plant.machineId}`);
    const response = await tech.post(`/machines/${plant.machineId}/connect`, {
      reason: "axis 3 fault",
      minutes: "30",
    });
    const location = response.headers.get("location") ?? "";
    if (!location.startsWith("/requests/"))
      throw new Error(`Connect answered ${response.status} → ${location}`);
    return location.slice("/requests/".length);
  }

  beforeAll(async () => {
    const siteId = (await createSite(p.adminCtx, customerId, { name: "Plant" })).id;
    const { gateway, secret } = await createGateway(p.adminCtx, p.proxyPool, siteId, {
      name: "Hall 1",
    });
    const machine = await createMachine(p.adminCtx, p.proxyPool, gateway.id, {
      name: "Press",
      lanAddress: "192.168.0.10",
    });
    await createService(p.adminCtx, machine.id, {
      name: "Web",
      protocol: "tcp",
      port: 443,
      enabled: true,
    });
    plant = { siteId, gatewayId: gateway.id, secret, machineId: machine.id };
    const t = await signedIn("tech", "Delta Drives Ltd", { role: "technician", customerId });
    tech = t.browser;
    techId = t.id;
    custAdmin = (await signedIn("custadmin", "", { role: "customer_admin", customerId })).browser;
    const response = await gatewayApi("/data-channel", {});
    const { envelope } = (await response.json()) as { envelope: string };
    const profile = await dataChannelProfile(p, gateway.id, envelope);
    expect((await p.access.connections.decide("0:1", serialOf(profile))).allow).toBe(true);
  }, 120_000);

  test("gateway, portal, request audit entry and transparency report carry it; null stays 'not recorded'", async () => {
    await custAdmin.get(`/sites/${plant.siteId}`);
    const policy = await custAdmin.post(`/sites/${plant.siteId}/consent`, {
      consentPolicy: "two_party",
      maxSessionMinutes: "60",
      requestExpiryMinutes: "10",
    });
    expect(policy.status).toBe(303);
    const id = await ask();

    // The gateway's consent screen and local API get it in the heartbeat answer.
    expect((await heartbeat()).pendingRequests).toMatchObject([
      { id, technician: "TECH", company: "Delta Drives Ltd" },
    ]);
    // The portal's pending requests and Sessions name it beside the technician.
    const sessions = await custAdmin.page("/sessions");
    expect(sessions).toContain("TECH");
    expect(sessions).toContain("(Delta Drives Ltd)");
    const [request] = (
      await p.database.db
        .select()
        .from(auditEntries)
        .where(eq(auditEntries.action, "remote_session.request"))
    ).filter((e) => (e.detail as { remoteSessionId?: string }).remoteSessionId === id);
    expect(request?.detail).toMatchObject({ company: "Delta Drives Ltd" });

    // The report says the company the request recorded, even after the user record changed.
    await p.admin.get(`/users/${techId}`);
    await p.admin.post(`/users/${techId}`, { displayName: "TECH", company: "" });
    expect((await heartbeat()).pendingRequests).toMatchObject([{ id, company: null }]);
    await p.access.ends.endRemoteSession(id, "admin", { id: null, name: "test", ip: null });
    const [view] = await p.access.remoteSessions.list(p.adminCtx, { id });
    if (!view) throw new Error("no session view");
    const report = await transparencyReport({ db: p.database.db, clock: p.clock }, view);
    expect(report.technician.company).toBe("Delta Drives Ltd");
    expect(report.technician.companyNote).toBeUndefined();

    // A request made with no company: null, with the note saying where one comes from.
    const next = await ask();
    await p.access.ends.endRemoteSession(next, "admin", { id: null, name: "test", ip: null });
    const [nextView] = await p.access.remoteSessions.list(p.adminCtx, { id: next });
    if (!nextView) throw new Error("no session view");
    const unknown = await transparencyReport({ db: p.database.db, clock: p.clock }, nextView);
    expect(unknown.technician.company).toBeNull();
    expect(unknown.technician.companyNote).toContain("user form");
  });
});
