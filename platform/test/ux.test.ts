// The portal's words and refusals as people meet them, through app.request(): forms that cannot
// silently revert another's change, deletes that say what is in the way, every field at fault
// named by its label, grant forms that preselect nothing, empty pages that say who can fill them,
// and the audit entries a customer needs (enrollment reported by the gateway, refused Connects,
// refused pages). The Chromium walk (ux-browser.test.ts) shows the same on screen.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { auditEntries, gateways } from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import {
  createCustomer,
  createGateway,
  createMachine,
  createService,
  createSite,
  rekeyGateway,
} from "../src/masterdata/index.ts";
import { dataChannelProfile, gatewayCall, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { type Browser, firstSignIn } from "./support/portal.ts";

let p: TestPlatform;
let acme: { id: string };
let site: { id: string };
let gateway: { id: string; secret: string; name: string };
let machineId: string;
let tech: Browser;

const entries = (action: string) =>
  p.database.db
    .select()
    .from(auditEntries)
    .where(eq(auditEntries.action, action))
    .orderBy(auditEntries.seq);

const gatewayApi = (path: string, body: unknown, secret = gateway.secret) =>
  gatewayCall(p, { gatewayId: gateway.id, secret }, path, body);
const beat = (state: string, lastError: string | null, secret?: string) =>
  gatewayApi(
    "/heartbeat",
    {
      state,
      gatewaySessionId: null,
      agentVersion: "0.1.0",
      openvpnVersion: "2.6.12",
      localTime: p.clock.now().toISOString(),
      lastError,
    },
    secret,
  );

const versionIn = (html: string) => html.match(/name="version" value="([0-9a-f]{16})"/)?.[1] ?? "";

beforeAll(async () => {
  p = await testPlatform();
  acme = await createCustomer(p.adminCtx, { name: "ACME" });
  site = await createSite(p.adminCtx, acme.id, { name: "Plant" });
  const made = await createGateway(p.adminCtx, p.proxyPool, site.id, { name: "Hall 1" });
  gateway = { id: made.gateway.id, secret: made.secret, name: made.gateway.name };
  machineId = (
    await createMachine(p.adminCtx, p.proxyPool, gateway.id, {
      name: "Press",
      lanAddress: "192.168.0.10",
    })
  ).id;
  const t = await createUser(p.adminCtx, { username: "tech", displayName: "Tech" });
  await grantRole(p.adminCtx, t.user.id, { role: "technician", customerId: acme.id });
  tech = (await firstSignIn(p.app, p.database.db, p.clock, "tech", t.password)).browser;
}, 60_000);
afterAll(() => p.dispose());

describe("lost updates: a stale form is refused, saying who changed it and when", () => {
  test.each([
    ["customer", () => `/customers/${acme.id}`, () => `/customers/${acme.id}`],
    ["site", () => `/sites/${site.id}`, () => `/sites/${site.id}`],
    ["gateway", () => `/gateways/${gateway.id}`, () => `/gateways/${gateway.id}`],
  ])("%s rename", async (what, page, action) => {
    const seen = versionIn(await p.admin.page(page()));
    expect(seen).not.toBe("");
    // Another tab renames it…
    expect((await p.admin.post(action(), { name: `${what} renamed`, version: seen })).status).toBe(
      303,
    );
    // …and this tab, opened before, saves its own: refused, nothing reverted.
    const stale = await p.admin.post(action(), { name: `${what} stale`, version: seen });
    expect(stale.status).toBe(409);
    expect(await stale.text()).toMatch(
      /Changed by admin at <span class="token">\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z<\/span> since you opened this page: nothing was saved/,
    );
    expect(await p.admin.page(page())).toContain(`${what} renamed`);
    // Programs (and forms without a version) are not checked.
    expect((await p.admin.post(action(), { name: `${what} again` })).status).toBe(303);
  });

  test("identity provider settings", async () => {
    const form = {
      slug: "acme-id",
      displayName: "ACME ID",
      issuer: "https://id.example.com/realms/acme",
      clientId: "meetpoint",
      clientAuth: "client_secret_basic",
      clientSecret: "s3cret",
      scopes: "openid profile",
      groupsClaim: "groups",
    };
    const created = await p.admin.post("/identity-providers", form);
    const path = created.headers.get("location") ?? "";
    const seen = versionIn(await p.admin.page(path));
    expect(
      (await p.admin.post(path, { ...form, displayName: "ACME 1", version: seen })).status,
    ).toBe(303);
    const stale = await p.admin.post(path, { ...form, displayName: "ACME 2", version: seen });
    expect(stale.status).toBe(409);
    expect(await p.admin.page(path)).toContain("ACME 1");
  });
});

describe("deletes that would orphan something say what is in the way", () => {
  test("a gateway with machines: refused, the machines linked, the refusal audited as denied", async () => {
    const refused = await p.admin.post(`/gateways/${gateway.id}/delete`);
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain(`machine <a href="/machines/${machineId}">Press</a>`);
    const denied = (await entries("gateway.delete")).filter((e) => e.result === "denied");
    expect(denied.at(-1)?.detail).toMatchObject({
      reason: "still in use",
      inUse: ["machine Press"],
    });
  });

  test("a customer with a technician: the user is named", async () => {
    const refused = await p.admin.post(`/customers/${acme.id}/delete`);
    expect(refused.status).toBe(409);
    expect(await refused.text()).toMatch(/user <a href="\/users\/[0-9a-f-]{36}">tech<\/a>/);
  });
});

describe("errors at the field", () => {
  test("every field at fault at once, by its visible label, for the page to place beside each", async () => {
    const bad = await p.admin.post(
      `/machines/${machineId}/services`,
      { name: "", protocol: "icmp", port: "70000" },
      { "hx-request": "true" },
    );
    expect(bad.status).toBe(400);
    expect(bad.headers.get("hx-retarget")).toBe("#messages");
    const html = await bad.text();
    for (const line of [
      "Name: is required",
      "Protocol: must be tcp or udp",
      "Port: must be between 1 and 65535",
    ])
      expect(html).toContain(line);
    const problems = JSON.parse(
      (html.match(/data-problems="([^"]+)"/)?.[1] ?? "[]").replaceAll("&quot;", '"'),
    ) as { field: string }[];
    expect(problems.map((x) => x.field)).toEqual(["name", "protocol", "port"]);
  });

  test("inputs carry the server's limits, so most errors never happen", async () => {
    const page = await p.admin.page(`/gateways/${gateway.id}`);
    expect(page).toMatch(/<input name="name"[^>]*required=""[^>]*maxlength="100"/);
    expect(page).toMatch(/<input name="lanAddress"[^>]*pattern="\(25\[0-5\]/);
    const machine = await p.admin.page(`/machines/${machineId}`);
    expect(machine).toMatch(/<input name="port" type="number"[^>]*min="1" max="65535"/);
  });

  test("grant forms preselect nothing; without a role the refusal names the field", async () => {
    const { user } = await createUser(p.adminCtx, { username: "newbie", displayName: "New Bie" });
    const page = await p.admin.page(`/users/${user.id}`);
    expect(page).toContain(
      '<select name="role" required=""><option value="" disabled="" selected="">Choose a role</option>',
    );
    expect(page).not.toMatch(/<option value="platform_admin" selected/);
    const refused = await p.admin.post(`/users/${user.id}/roles`, { role: "", customerId: "" });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("Role: choose a role");
    const scoped = await p.admin.post(`/users/${user.id}/roles`, {
      role: "technician",
      customerId: "",
    });
    expect(await scoped.text()).toContain("Customer: Technician needs a customer");
  });
});

describe("what a technician sees", () => {
  test("empty pages say who can fill them; no hint to add what they cannot add", async () => {
    const gatewaysPage = await tech.page("/gateways");
    expect(gatewaysPage).not.toContain("Add a gateway");
    const none = await tech.page("/machines?q=nothing-like-this");
    expect(none).toContain("No machine matches.");
    expect(await tech.page("/help")).toContain("What the gateway states mean");
  });

  test("a page they may not see is refused and audited", async () => {
    expect((await tech.get("/users")).status).toBe(403);
    const refused = await entries("access.denied");
    expect(refused.at(-1)).toMatchObject({ actorName: "tech", result: "denied" });
    expect(refused.at(-1)?.detail).toMatchObject({ method: "GET", path: "/users" });
  });
});

describe("the gateway's own reports", () => {
  test("enrollment is audited at the first heartbeat with a secret, and again after a re-key", async () => {
    // (The gateway was renamed "gateway again" by the lost-update test above.)
    expect((await beat("idle", null)).status).toBe(200);
    expect((await beat("idle", null)).status).toBe(200);
    expect((await entries("gateway.enroll")).map((e) => e.detail)).toEqual([
      { name: "gateway again", firstContact: true, agentVersion: "0.1.0" },
    ]);
    const secret = await rekeyGateway(p.adminCtx, gateway.id);
    gateway.secret = secret;
    expect((await beat("idle", null)).status).toBe(200);
    expect((await entries("gateway.enroll")).map((e) => e.detail)).toEqual([
      { name: "gateway again", firstContact: true, agentVersion: "0.1.0" },
      { name: "gateway again", firstContact: false, agentVersion: "0.1.0" },
    ]);
  });

  test("since when it cannot connect stays put while it retries (connecting ↔ reconnecting)", async () => {
    const phase = async () => {
      const [row] = await p.database.db.select().from(gateways).where(eq(gateways.id, gateway.id));
      return row?.agent;
    };
    await beat("reconnecting", "the data channel did not come up within 30 s");
    const since = (await phase())?.phaseSince;
    p.clock.advance(30_000);
    await beat("connecting", "the data channel did not come up within 30 s");
    p.clock.advance(30_000);
    await beat("reconnecting", "the data channel did not come up within 30 s");
    expect(await phase()).toMatchObject({ phase: "failing", phaseSince: since });
    await beat("idle", null);
    expect((await phase())?.phase).toBe("idle");
    expect((await phase())?.phaseSince).not.toBe(since);
  });

  test("a refused Connect of the gateway is audited as denied, with the reason", async () => {
    const response = await gatewayApi("/data-channel", {});
    const { envelope, gatewaySessionId } = (await response.json()) as {
      envelope: string;
      gatewaySessionId: string;
    };
    const serial = serialOf(await dataChannelProfile(p, gateway.id, envelope));
    expect((await p.access.connections.decide("0:77", serial)).allow).toBe(true);
    // A technician connects and ends the session: only the operator may connect again, so the
    // gateway's automatic reconnect is refused.
    await createService(p.adminCtx, machineId, {
      name: "Web",
      protocol: "tcp",
      port: 443,
      enabled: true,
    });
    await tech.page(`/machines/${machineId}`);
    const once = await tech.postShownOnce(`/machines/${machineId}/connect`, { reason: "ticket 1" });
    const sessionId = (await once.text()).match(
      /action="\/sessions\/([0-9a-f-]{36})\/disconnect"/,
    )?.[1];
    expect((await tech.post(`/sessions/${sessionId}/disconnect`)).status).toBe(303);
    const refused = await gatewayApi("/data-channel", { reconnectOf: gatewaySessionId });
    expect(refused.status).toBe(409);
    const denied = (await entries("gateway_session.request")).filter((e) => e.result === "denied");
    expect(denied.at(-1)?.detail).toMatchObject({ by: "automatic reconnect" });
    // The auditor's filter finds it among the denials.
    const page = await p.admin.page("/audit?result=denied&action=gateway_session.");
    expect(page).toContain("gateway_session.request");
    expect(page).toContain("automatic reconnect");
  });
});
