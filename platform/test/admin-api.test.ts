// The admin API (/api/v1) with API tokens: made in the portal (shown once), scoped no wider than
// their creator, expiring, revocable, every use audited; the same scope rules as the portal; an
// OpenAPI document generated from the schemas, browsable in the portal.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, asc, eq } from "drizzle-orm";
import type { Context } from "../src/access/index.ts";
import { createApiToken } from "../src/api/index.ts";
import { auditEntries } from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import { createCustomer, createSite } from "../src/masterdata/index.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { firstSignIn } from "./support/portal.ts";

let p: TestPlatform;
let acmeId: string;
let boltId: string;
let customerAdmin: Context;

const api = (
  token: string | null,
  path: string,
  init: { method?: string; body?: unknown; type?: string } = {},
) =>
  p.app.request(`https://localhost/api/v1${path}`, {
    method: init.method ?? "GET",
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(init.body !== undefined ? { "content-type": init.type ?? "application/json" } : {}),
    },
    body:
      init.body === undefined
        ? undefined
        : typeof init.body === "string"
          ? init.body
          : JSON.stringify(init.body),
  });

async function uses(result: "ok" | "denied") {
  return p.database.db
    .select()
    .from(auditEntries)
    .where(and(eq(auditEntries.action, "api_token.use"), eq(auditEntries.result, result)))
    .orderBy(asc(auditEntries.seq));
}

beforeAll(async () => {
  p = await testPlatform();
  acmeId = (await createCustomer(p.adminCtx, { name: "ACME" })).id;
  boltId = (await createCustomer(p.adminCtx, { name: "BOLT" })).id;
  await createSite(p.adminCtx, boltId, { name: "BOLT Depot" });
  const { user } = await createUser(p.adminCtx, { username: "carla", displayName: "Carla" });
  await grantRole(p.adminCtx, user.id, { role: "customer_admin", customerId: acmeId });
  customerAdmin = {
    ...p.adminCtx,
    caller: {
      principal: {
        userId: user.id,
        username: "carla",
        displayName: "Carla",
        grants: [{ role: "customer_admin", customerId: acmeId }],
      },
      actor: { id: user.id, name: "carla", ip: "198.18.0.7" },
    },
  };
}, 60_000);
afterAll(() => p.dispose());

describe("API tokens in the portal", () => {
  test("made with a role and shown once; listed afterwards without the secret; revocable", async () => {
    await p.admin.get("/account/api-tokens");
    const created = await p.admin.post("/account/api-tokens", {
      name: "erp sync",
      days: "30",
      role: "platform_admin",
      customerId: "",
      serviceAccount: "erp-sync",
    });
    // Regression: the token was the POST's own answer; now POST → 303 → /once, shown once.
    expect(created.status).toBe(303);
    const address = created.headers.get("location") ?? "";
    expect(address).toMatch(/^\/once\/[0-9a-f-]{36}$/);
    const shown = await p.admin.get(address);
    expect(shown.headers.get("cache-control")).toBe("no-store");
    const html = await shown.text();
    const token = html.match(/class="secret">(mpt_[A-Za-z0-9_-]+)</)?.[1];
    expect(token).toBeDefined();
    expect((await p.admin.get(address)).status).toBe(410);
    const list = await p.admin.page("/account/api-tokens");
    expect(list).toContain("service:erp-sync (made by admin)");
    expect(list).not.toContain(token as string);
    const me = await api(token as string, "/customers");
    expect(me.status).toBe(200);
    const [use] = (await uses("ok")).slice(-1);
    expect(use?.actorName).toBe("service:erp-sync");
    expect(use?.detail).toMatchObject({ method: "GET", path: "/api/v1/customers", status: 200 });
  });

  test("regression: an admin makes a personal token in the browser (the service account is optional)", async () => {
    const form = await p.admin.page("/account/api-tokens");
    const field = form.match(/<input[^>]*name="serviceAccount"[^>]*>/)?.[0] ?? "";
    expect(field).not.toBe("");
    expect(field).not.toContain("required");
    const created = await p.admin.postShownOnce("/account/api-tokens", {
      name: "my own",
      days: "7",
      role: "auditor",
      customerId: "",
      serviceAccount: "",
    });
    expect(await created.text()).toMatch(/class="secret">mpt_/);
  });

  test("regression: the token list names whose tokens they are; a technician is offered only roles a token of theirs can carry", async () => {
    const { user, password } = await createUser(p.adminCtx, {
      username: "tomas",
      displayName: "Tomas",
    });
    await grantRole(p.adminCtx, user.id, { role: "technician", customerId: acmeId });
    const tomas = (await firstSignIn(p.app, p.database.db, p.clock, "tomas", password)).browser;
    const form = await tomas.page("/account/api-tokens");
    const roles = [...form.matchAll(/<option value="([a-z_]+)"/g)].map((m) => m[1]);
    expect(roles).toEqual(["technician"]);
    expect(form).toContain(">ACME<");
    expect(form).not.toContain(">BOLT<");
    await tomas.postShownOnce("/account/api-tokens", {
      name: "tomas laptop",
      days: "7",
      role: "technician",
      customerId: acmeId,
    });
    const list = await p.admin.page("/account/api-tokens");
    const row = list.match(/<tr><td>tomas laptop<\/td><td>([^<]*)<\/td>/)?.[1];
    expect(row).toBe("tomas");
  });

  test("a token wider than its creator is refused", async () => {
    await expect(
      createApiToken(
        customerAdmin,
        { name: "x", days: 1, grants: [{ role: "customer_admin", customerId: boltId }] },
        365,
      ),
    ).rejects.toThrow("beyond yours");
    await expect(
      createApiToken(
        customerAdmin,
        { name: "x", days: 1, grants: [{ role: "auditor", customerId: null }] },
        365,
      ),
    ).rejects.toThrow("beyond yours");
    await expect(
      createApiToken(
        customerAdmin,
        {
          name: "x",
          days: 1,
          grants: [{ role: "customer_admin", customerId: acmeId }],
          serviceAccount: "bot",
        },
        365,
      ),
    ).rejects.toThrow("service accounts");
    await expect(
      createApiToken(
        customerAdmin,
        { name: "x", days: 400, grants: [{ role: "customer_admin", customerId: acmeId }] },
        365,
      ),
    ).rejects.toThrow("days: at most 365");
  });
});

describe("the OpenAPI document", () => {
  test("generated from the schemas, public at /api/v1/openapi.json and browsable in the portal", async () => {
    const response = await api(null, "/openapi.json");
    expect(response.status).toBe(200);
    const doc = await response.json();
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/customers",
        "/machines",
        "/machines/{id}/services",
        "/users",
        "/sessions/{id}/terminate",
        "/audit",
        "/audit/export",
        "/import",
        "/tokens",
      ]),
    );
    expect(doc.components.schemas.Machine.properties.proxyAddress).toEqual({ type: "string" });
    expect(doc.components.securitySchemes.token).toMatchObject({ type: "http", scheme: "bearer" });
    // Regression: no servers entry, so generated clients called https://host/customers.
    expect(doc.servers).toEqual([{ url: "/api/v1", description: "this platform's admin API" }]);
    // Each operation lists only the errors it can give (every one listed 400–409).
    const errorsOf = (path: string, method: string) =>
      Object.keys(doc.paths[path][method].responses).filter((s) => Number(s) >= 400);
    expect(errorsOf("/customers", "get")).toEqual(["400", "401"]);
    expect(errorsOf("/tokens", "get")).toEqual(["401"]);
    expect(errorsOf("/customers/{id}", "patch")).toEqual(["400", "401", "403", "404", "409"]);
    // PATCH bodies are partial: no field is required.
    expect(doc.components.schemas.MachinePatch.required).toBeUndefined();
    expect(doc.components.schemas.Gateway.properties.proxyBlock.type).toBe("string");

    const page = await p.admin.page("/api-docs");
    expect(page).toContain("<code>/api/v1/machines/{id}/services</code>");
    expect(page).toContain("<strong>404</strong> unknown, or not visible to the token");
    expect(page.match(/unknown, or not visible to the token/g)).toHaveLength(1);
    // Request bodies show their fields; optional ones marked.
    expect(page).toContain("<li><code>lanAddress</code>: string</li>");
    expect(page).toContain("<li><code>port</code>?: integer 1–65535</li>");
    expect(page).not.toContain("`");
    expect(page).toContain('<td class="nowrap"><code>/api/v1/customers/{id}/sites</code></td>');
  });
});

describe("/api/v1 with a token", () => {
  let token: string;
  beforeAll(async () => {
    token = (
      await createApiToken(
        customerAdmin,
        { name: "acme tool", days: 7, grants: [{ role: "customer_admin", customerId: acmeId }] },
        365,
      )
    ).token;
  });

  test("master data through the API: the same rules, scope and audit as the portal", async () => {
    const customers = await api(token, "/customers");
    expect((await customers.json()).map((c: { name: string }) => c.name)).toEqual(["ACME"]);
    const site = await api(token, `/customers/${acmeId}/sites`, {
      method: "POST",
      body: { name: "Plant" },
    });
    expect(site.status).toBe(201);
    const siteId = (await site.json()).id;
    const gateway = await api(token, `/sites/${siteId}/gateways`, {
      method: "POST",
      body: { name: "Hall 1" },
    });
    expect(gateway.status).toBe(201);
    const { gateway: gw, secret } = await gateway.json();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const machine = await api(token, `/gateways/${gw.id}/machines`, {
      method: "POST",
      body: { name: "Press", lanAddress: "192.168.0.10" },
    });
    expect(machine.status).toBe(201);
    const m = await machine.json();
    expect(m.proxyAddress).toMatch(/^100\.64\./);
    const service = await api(token, `/machines/${m.id}/services`, {
      method: "POST",
      body: { name: "Web", protocol: "tcp", port: 80, enabled: true },
    });
    expect(service.status).toBe(201);
    const page = await api(token, "/machines?q=Press&limit=10");
    expect(await page.json()).toMatchObject({
      total: 1,
      machines: [{ name: "Press", siteName: "Plant" }],
    });
    const [created] = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, "machine.create"));
    expect(created?.actorName).toBe("carla (token acme tool)");
  });

  test("bad input: 400 naming the field; foreign ids: 404; beyond the token's rights: 403", async () => {
    const bad = await api(token, `/customers/${acmeId}/sites`, {
      method: "POST",
      body: { name: "" },
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatchObject({ code: "ERR_VALIDATION", field: "name" });
    const badBody = await api(token, "/gateways/x/machines", {
      method: "POST",
      body: { name: "M" },
    });
    expect(badBody.status).toBe(400);
    const foreign = await api(token, `/customers/${boltId}/sites`, {
      method: "POST",
      body: { name: "Sneaky" },
    });
    expect(foreign.status).toBe(404);
    expect((await api(token, `/customers/${boltId}`)).status).toBe(404);
    expect(
      (await api(token, "/customers", { method: "POST", body: { name: "New Co" } })).status,
    ).toBe(403);
    expect((await api(token, "/users")).status).toBe(403);
    const denied = (await uses("denied")).filter((u) => u.actorName === "carla (token acme tool)");
    expect(denied.map((u) => (u.detail as { status: number }).status).sort()).toEqual([
      400, 400, 403, 403, 404, 404,
    ]);
  });

  test("regression: PATCH is partial, a gateway's proxy block is its CIDR, the scheme is case-insensitive, 403 comes before body checks", async () => {
    const [m] = (await (await api(token, "/machines?q=Press")).json()).machines;
    // PATCH {"name"} answered 400 asking for lanAddress.
    const renamed = await api(token, `/machines/${m.id}`, {
      method: "PATCH",
      body: { name: "Press renamed" },
    });
    expect(renamed.status).toBe(200);
    expect(await renamed.json()).toMatchObject({
      name: "Press renamed",
      lanAddress: m.lanAddress,
      proxyAddress: m.proxyAddress,
    });
    const [service] = await (await api(token, `/machines/${m.id}/services`)).json();
    const disabled = await api(token, `/services/${service.id}`, {
      method: "PATCH",
      body: { enabled: false },
    });
    expect(await disabled.json()).toMatchObject({
      name: service.name,
      protocol: service.protocol,
      port: service.port,
      enabled: false,
    });
    const site = await api(token, `/sites/${m.siteId}`, { method: "PATCH", body: {} });
    expect(site.status).toBe(200);
    expect((await site.json()).name).toBe(m.siteName);
    expect(
      (await api(token, `/machines/${m.id}`, { method: "PATCH", body: { lanAddress: "x" } }))
        .status,
    ).toBe(400);
    // proxyBlock was an index (0) where the portal shows 100.64.0.0/24.
    const [gateway] = await (await api(token, "/gateways")).json();
    expect(gateway.proxyBlock).toMatch(/^100\.64\.\d+\.0\/24$/);
    expect(m.proxyAddress.startsWith(gateway.proxyBlock.replace(/0\/24$/, ""))).toBe(true);
    expect((await (await api(token, `/gateways/${gateway.id}`)).json()).proxyBlock).toBe(
      gateway.proxyBlock,
    );
    // "bearer" is the same scheme as "Bearer" (RFC 9110 §11.1).
    const lower = await p.app.request("https://localhost/api/v1/customers", {
      headers: { authorization: `bearer ${token}` },
    });
    expect(lower.status).toBe(200);
    // A customer admin may not create users at all: 403, not a lesson in the body's shape.
    const users = await api(token, "/users", { method: "POST", body: {} });
    expect(users.status).toBe(403);
  });

  test("regression: an unknown API path is 404 and a wrong method 405, in API terms; the portal answers other methods 405", async () => {
    // POST /api/v1/alerts fell through to the portal: a JSON 403 about an expired form.
    const unknown = await api(token, "/alerts", { method: "POST", body: {} });
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.code).toBe("ERR_NOT_FOUND");
    const put = await api(token, "/customers", { method: "PUT", body: { name: "x" } });
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, POST, HEAD");
    expect((await put.json()).error.code).toBe("ERR_METHOD_NOT_ALLOWED");
    expect(
      (await api(token, `/machines/${crypto.randomUUID()}`, { method: "POST" })).headers.get(
        "allow",
      ),
    ).toBe("GET, PATCH, DELETE, HEAD");
    for (const method of ["PUT", "OPTIONS", "DELETE", "PATCH"]) {
      const answer = await p.admin.request(method, "/customers");
      expect(`${method} ${answer.status} ${answer.headers.get("allow")}`).toBe(
        `${method} 405 GET, HEAD, POST`,
      );
      expect(await answer.text()).not.toContain("expired");
    }
  });

  test("audit query and export, sessions and import, limited to the token's customers", async () => {
    const audit = await api(token, "/audit?action=site.create");
    const entries = await audit.json();
    expect(entries.map((e: { customerId: string }) => e.customerId)).toEqual([acmeId]); // BOLT's site is not shown
    const exported = await api(token, "/audit/export?format=csv&action=site.");
    expect(exported.headers.get("content-type")).toContain("text/csv");
    expect((await exported.text()).split("\r\n")[0]).toContain("seq,at,actorId");
    expect(await (await api(token, "/sessions")).json()).toEqual([]);
    const refused = await api(token, "/import", {
      method: "POST",
      type: "text/csv",
      body: "customer,site\nBOLT,Depot 2\n",
    });
    expect(refused.status).toBe(422);
    expect((await refused.json()).problems).toEqual([
      { line: 2, column: "customer", message: 'no customer "BOLT" that you manage' },
    ]);
    const imported = await api(token, "/import", {
      method: "POST",
      type: "text/csv",
      body: "customer,site\nACME,Plant 2\n",
    });
    expect(imported.status).toBe(200);
    expect((await imported.json()).created.sites).toBe(1);
  });

  test("an expired, revoked, unknown or missing token: 401, audited", async () => {
    const before = (await uses("denied")).length;
    expect((await api(null, "/customers")).status).toBe(401);
    expect((await api("mpt_unknown", "/customers")).status).toBe(401);
    const short = (
      await createApiToken(
        customerAdmin,
        { name: "short", days: 1, grants: [{ role: "customer_admin", customerId: acmeId }] },
        365,
      )
    ).token;
    expect((await api(short, "/customers")).status).toBe(200);
    p.clock.advance(86_400_000 + 1);
    const expired = await api(short, "/customers");
    expect(expired.status).toBe(401);
    expect((await expired.json()).error.message).toBe("the API token is expired");
    const list = await api(token, "/tokens");
    const mine = (await list.json()).find((t: { name: string }) => t.name === "acme tool");
    expect((await api(token, `/tokens/${mine.id}`, { method: "DELETE" })).status).toBe(200);
    const revoked = await api(token, "/customers");
    expect(revoked.status).toBe(401);
    expect((await revoked.json()).error.message).toBe("the API token is revoked");
    const denied = (await uses("denied"))
      .slice(before)
      .map((u) => (u.detail as { reason?: string }).reason);
    // A token that exists is audited one by one; none or an unknown one only in aggregate.
    expect(denied).toEqual(["expired", "revoked"]);
    expect(await p.authFailures.flush({ all: true })).toBe(1);
    const [aggregate] = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, "api_token.refused"));
    expect(aggregate?.detail).toMatchObject({
      failures: 2,
      throttled: 0,
      requests: ["GET /api/v1/customers"],
    });
    expect(
      (
        await p.database.db
          .select()
          .from(auditEntries)
          .where(eq(auditEntries.action, "api_token.revoke"))
      ).length,
    ).toBe(1);
  });

  test("anonymous requests: throttled per source with 429, one audit entry; a valid token still passes", async () => {
    // Regression: every request with no or a made-up token wrote its own api_token.use entry.
    await p.authFailures.flush({ all: true });
    const from = (address: string, authorization?: string) =>
      p.app.request(
        "https://localhost/api/v1/customers",
        { headers: authorization ? { authorization } : {} },
        { requestIP: () => ({ address, family: "IPv4", port: 40_000 }) },
      );
    const statuses: number[] = [];
    let retryAfter = "";
    for (let i = 0; i < 100; i++) {
      const response = await from("203.0.113.77", i % 2 ? `Bearer mpt_guess${i}` : undefined);
      statuses.push(response.status);
      if (response.status === 429) retryAfter = response.headers.get("retry-after") ?? "";
    }
    expect(statuses.filter((s) => s === 401)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(80);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    const valid = await createApiToken(
      customerAdmin,
      { name: "beside", days: 1, grants: [{ role: "customer_admin", customerId: acmeId }] },
      365,
    );
    expect((await from("203.0.113.77", `Bearer ${valid.token}`)).status).toBe(200);
    const before = (
      await p.database.db
        .select()
        .from(auditEntries)
        .where(eq(auditEntries.action, "api_token.refused"))
    ).length;
    p.clock.advance(60_000);
    expect(await p.authFailures.flush()).toBe(1);
    const entries = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, "api_token.refused"))
      .orderBy(asc(auditEntries.seq));
    expect(entries).toHaveLength(before + 1);
    expect(entries.at(-1)?.ip).toBe("203.0.113.77");
    expect(entries.at(-1)?.detail).toMatchObject({ failures: 20, throttled: 80 });
  });

  test("a read-only token sees and revokes only itself, not its creator's other tokens", async () => {
    // Regression: an auditor service-account token listed the admin's tokens and revoked one.
    const adminTool = await createApiToken(
      p.adminCtx,
      { name: "admin tool", days: 7, grants: [{ role: "platform_admin", customerId: null }] },
      365,
    );
    const reader = await createApiToken(
      p.adminCtx,
      {
        name: "siem reader",
        days: 7,
        grants: [{ role: "auditor", customerId: null }],
        serviceAccount: "siem",
      },
      365,
    );
    const listed = (await (await api(reader.token, "/tokens")).json()) as { id: string }[];
    expect(listed.map((t) => t.id)).toEqual([reader.view.id]);
    const other = await api(reader.token, `/tokens/${adminTool.view.id}`, { method: "DELETE" });
    expect(other.status).toBe(404);
    expect((await api(adminTool.token, "/customers")).status).toBe(200);
    // A token with user administration rights manages every token; any token may revoke itself.
    const all = (await (await api(adminTool.token, "/tokens")).json()) as { id: string }[];
    expect(all.map((t) => t.id)).toContain(reader.view.id);
    expect(
      (await api(reader.token, `/tokens/${reader.view.id}`, { method: "DELETE" })).status,
    ).toBe(200);
    expect((await api(reader.token, "/customers")).status).toBe(401);
  });

  test("a role taken from the creator leaves their tokens", async () => {
    const { user } = await createUser(p.adminCtx, { username: "dora", displayName: "Dora" });
    await grantRole(p.adminCtx, user.id, { role: "auditor" });
    const dora: Context = {
      ...p.adminCtx,
      caller: {
        principal: {
          userId: user.id,
          username: "dora",
          displayName: "Dora",
          grants: [{ role: "auditor", customerId: null }],
        },
        actor: { id: user.id, name: "dora", ip: null },
      },
    };
    const t = (
      await createApiToken(
        dora,
        { name: "reader", days: 1, grants: [{ role: "auditor", customerId: null }] },
        365,
      )
    ).token;
    expect((await api(t, "/audit?limit=1")).status).toBe(200);
    const grants = await p.app.request("https://localhost/api/v1/users", {
      headers: { authorization: `Bearer ${t}` },
    });
    expect(grants.status).toBe(403);
    const { revokeRole, getUser } = await import("../src/identity/index.ts");
    const doraNow = await getUser(p.adminCtx, user.id);
    await revokeRole(p.adminCtx, user.id, doraNow.grants[0]?.id ?? "");
    expect((await api(t, "/audit?limit=1")).status).toBe(403);
  });
});
