// Scope filtering: each role sees exactly its customers; a foreign id answers 404 everywhere.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createUser, grantRole } from "../src/identity/index.ts";
import {
  createCustomer,
  createGateway,
  createMachine,
  createService,
  createSite,
} from "../src/masterdata/index.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { type Browser, firstSignIn } from "./support/portal.ts";

let p: TestPlatform;
const objects: Record<"A" | "B", Record<string, string>> = { A: {}, B: {} };

async function arrange(label: "A" | "B") {
  const ctx = p.adminCtx;
  const customer = await createCustomer(ctx, { name: `Customer ${label}` });
  const site = await createSite(ctx, customer.id, { name: `Site ${label}` });
  const { gateway } = await createGateway(ctx, p.proxyPool, site.id, { name: `Gateway ${label}` });
  const machine = await createMachine(ctx, p.proxyPool, gateway.id, {
    name: `Machine ${label}`,
    lanAddress: "192.168.0.10",
  });
  const service = await createService(ctx, machine.id, {
    name: `Service ${label}`,
    protocol: "tcp",
    port: 80,
    enabled: true,
  });
  objects[label] = {
    customer: customer.id,
    site: site.id,
    gateway: gateway.id,
    machine: machine.id,
    service: service.id,
  };
}

async function userWith(
  username: string,
  grants: { role: string; customerId?: string }[],
): Promise<Browser> {
  const { user, password } = await createUser(p.adminCtx, { username, displayName: username });
  for (const grant of grants) await grantRole(p.adminCtx, user.id, grant);
  return (await firstSignIn(p.app, p.database.db, p.clock, username, password)).browser;
}

beforeAll(async () => {
  p = await testPlatform();
  await arrange("A");
  await arrange("B");
}, 60_000);
afterAll(() => p.dispose());

const detailRoutes = (o: Record<string, string>) => [
  `/customers/${o.customer}`,
  `/sites/${o.site}`,
  `/gateways/${o.gateway}`,
  `/machines/${o.machine}`,
];

const writeRoutes = (o: Record<string, string>): [string, Record<string, string>][] => [
  [`/customers/${o.customer}`, { name: "x" }],
  [`/customers/${o.customer}/sites`, { name: "x" }],
  [`/sites/${o.site}`, { name: "x" }],
  [`/sites/${o.site}/gateways`, { name: "x" }],
  [`/sites/${o.site}/delete`, {}],
  [`/gateways/${o.gateway}`, { name: "x" }],
  [`/gateways/${o.gateway}/rekey`, {}],
  [`/gateways/${o.gateway}/machines`, { name: "x", lanAddress: "10.1.1.1" }],
  [`/gateways/${o.gateway}/delete`, {}],
  [`/machines/${o.machine}`, { name: "x", lanAddress: "10.1.1.1" }],
  [`/machines/${o.machine}/services`, { name: "x", protocol: "tcp", port: "1" }],
  [`/machines/${o.machine}/delete`, {}],
  [`/services/${o.service}/enabled`, { enabled: "false" }],
  [`/services/${o.service}/delete`, {}],
];

const lists = [
  "/machines",
  "/machines/rows",
  "/machines/rows?q=Machine",
  "/customers",
  "/gateways",
];

async function expectOnlyA(browser: Browser, paths: string[]) {
  for (const path of paths) {
    const html = await browser.page(path);
    expect(html).not.toContain("Machine B");
    expect(html).not.toContain("Customer B");
    expect(html).not.toContain("Gateway B");
  }
}

describe.each([
  ["technician", "technician"],
  ["customer admin", "customer_admin"],
])("a %s of customer A", (_label, role) => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await userWith(`scoped-${role}`, [
      { role, customerId: objects.A.customer as string },
    ]);
  }, 30_000);

  test("sees customer A in every list and none of B", async () => {
    await expectOnlyA(browser, lists);
    expect(await browser.page("/machines")).toContain("Machine A");
    expect(await browser.page("/machines/rows")).toContain("Machine A");
  });

  test("gets 404 for every object of B, reading or writing, full page or htmx", async () => {
    for (const path of detailRoutes(objects.B)) {
      expect((await browser.get(path)).status).toBe(404);
      expect((await browser.get(path, { "hx-request": "true" })).status).toBe(404);
    }
    for (const [path, form] of writeRoutes(objects.B)) {
      const response = await browser.post(path, form);
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
    }
    const fragment = await browser.post(
      `/services/${objects.B.service}/enabled`,
      { enabled: "false" },
      { "hx-request": "true" },
    );
    expect(fragment.status).toBe(404);
  });

  test("reads every object of A", async () => {
    for (const path of detailRoutes(objects.A)) expect((await browser.get(path)).status).toBe(200);
  });

  test("cannot manage users", async () => {
    expect((await browser.get("/users")).status).toBe(403);
    expect((await browser.post("/users", { username: "x1", displayName: "x" })).status).toBe(403);
  });
});

describe("a technician", () => {
  test("may read A but not change it (403), and has no audit log", async () => {
    const browser = await userWith("tech-readonly", [
      { role: "technician", customerId: objects.A.customer as string },
    ]);
    await browser.get("/machines");
    expect(
      (
        await browser.post(`/machines/${objects.A.machine}`, {
          name: "renamed",
          lanAddress: "10.1.1.1",
        })
      ).status,
    ).toBe(403);
    expect(
      (await browser.post(`/customers/${objects.A.customer}/sites`, { name: "x" })).status,
    ).toBe(403);
    for (const path of ["/audit", "/audit/export.jsonl", "/audit/export.csv"]) {
      expect((await browser.get(path)).status).toBe(403);
    }
    expect(await browser.page(`/machines/${objects.A.machine}`)).not.toContain("Add service");
  });
});

describe("a customer admin of A", () => {
  test("manages A's master data and reads only A's audit entries, also in exports", async () => {
    const browser = await userWith("ca-audit", [
      { role: "customer_admin", customerId: objects.A.customer as string },
    ]);
    await browser.get("/machines");
    expect(
      (
        await browser.post(`/gateways/${objects.A.gateway}/machines`, {
          name: "Machine A2",
          lanAddress: "192.168.0.11",
        })
      ).status,
    ).toBe(303);
    expect(
      (await browser.post(`/customers/${objects.A.customer}`, { name: "Renamed" })).status,
    ).toBe(403);
    for (const path of ["/audit", "/audit/export.jsonl", "/audit/export.csv"]) {
      const response = await browser.get(path);
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).toContain(objects.A.machine as string);
      expect(text).not.toContain(objects.B.machine as string);
      expect(text).not.toContain(objects.B.customer as string);
    }
  });
});

describe("an auditor", () => {
  test("reads everything, changes nothing", async () => {
    const browser = await userWith("auditor1", [{ role: "auditor" }]);
    for (const path of [...detailRoutes(objects.A), ...detailRoutes(objects.B)])
      expect((await browser.get(path)).status).toBe(200);
    const audit = await browser.page("/audit");
    expect(audit).toContain(objects.B.machine as string);
    for (const [path, form] of writeRoutes(objects.B))
      expect((await browser.post(path, form)).status).toBe(403);
    expect((await browser.post("/customers", { name: "x" })).status).toBe(403);
  });
});

describe("a user without roles", () => {
  test("sees empty lists and 404 for everything", async () => {
    const browser = await userWith("no-roles", []);
    await expectOnlyA(browser, lists);
    expect(await browser.page("/machines")).not.toContain("Machine A");
    for (const path of [...detailRoutes(objects.A), ...detailRoutes(objects.B)])
      expect((await browser.get(path)).status).toBe(404);
  });
});
