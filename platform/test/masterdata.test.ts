import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { count, eq } from "drizzle-orm";
import {
  auditEntries,
  customers,
  gateways,
  machines,
  services,
  sites,
  users,
} from "../src/db/index.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

let p: TestPlatform;
beforeAll(async () => {
  p = await testPlatform();
}, 60_000);
afterAll(() => p.dispose());

/** The id at the end of a redirect location such as /customers/<id>. */
function idFrom(response: Response): string {
  const id = response.headers.get("location")?.split("/").at(-1);
  if (!id) throw new Error(`no redirect (status ${response.status})`);
  return id;
}

async function auditCount(action: string): Promise<number> {
  const [row] = await p.database.db
    .select({ n: count() })
    .from(auditEntries)
    .where(eq(auditEntries.action, action));
  return row?.n ?? 0;
}

describe("master data through the portal", () => {
  test("customer → site → gateway (secret once) → machine (proxy address) → services, each audited", async () => {
    const admin = p.admin;
    await admin.get("/customers");
    const customerId = idFrom(await admin.post("/customers", { name: "ACME Stamping" }));
    const siteId = idFrom(
      await admin.post(`/customers/${customerId}/sites`, { name: "Plant Freiburg" }),
    );

    await admin.get(`/sites/${siteId}`);
    const created = await admin.postShownOnce(`/sites/${siteId}/gateways`, { name: "Hall 3" });
    expect(created.status).toBe(200);
    expect(created.headers.get("cache-control")).toBe("no-store");
    const html = await created.text();
    expect(html).toContain("offered only on this page");
    const gatewayId = html.match(/Gateway id<\/dt><dd class="mono">([0-9a-f-]{36})/)?.[1] ?? "";
    const secret = html.match(/<div class="secret">([A-Za-z0-9_-]{43})<\/div>/)?.[1];
    expect(secret).toBeDefined();
    const gatewayPage = await admin.page(`/gateways/${gatewayId}`);
    expect(gatewayPage).toContain("100.64.0.0/24");
    expect(gatewayPage).not.toContain(secret ?? "-");

    const machineId = idFrom(
      await admin.post(`/gateways/${gatewayId}/machines`, {
        name: "Press 7",
        lanAddress: "192.168.0.10",
      }),
    );
    const second = idFrom(
      await admin.post(`/gateways/${gatewayId}/machines`, {
        name: "Press 8",
        lanAddress: "192.168.0.11",
      }),
    );
    const [m1] = await p.database.db.select().from(machines).where(eq(machines.id, machineId));
    const [m2] = await p.database.db.select().from(machines).where(eq(machines.id, second));
    expect(m1?.proxyAddress).toBe("100.64.0.1");
    expect(m2?.proxyAddress).toBe("100.64.0.2");

    await admin.get(`/machines/${machineId}`);
    expect(
      (
        await admin.post(`/machines/${machineId}/services`, {
          name: "Web UI",
          protocol: "tcp",
          port: "443",
          enabled: "on",
        })
      ).status,
    ).toBe(303);
    expect(
      (
        await admin.post(`/machines/${machineId}/services`, {
          name: "Modbus",
          protocol: "tcp",
          port: "502",
        })
      ).status,
    ).toBe(303);
    const machinePage = await admin.page(`/machines/${machineId}`);
    expect(machinePage).toContain("tcp/443");
    // A disabled service shows its state as a badge and a secondary button, never the primary look.
    expect(machinePage).toMatch(
      /data-service-state="true">disabled<\/span>[\s\S]*?<button type="submit" class="secondary">Enable<\/button>/,
    );

    const [modbus] = await p.database.db.select().from(services).where(eq(services.port, 502));
    const toggled = await admin.post(
      `/services/${modbus?.id}/enabled`,
      { enabled: "true" },
      { "hx-request": "true" },
    );
    expect(toggled.status).toBe(200);
    expect(await toggled.text()).toContain('data-service-state="true">enabled</span>');

    for (const action of [
      "customer.create",
      "site.create",
      "gateway.create",
      "machine.create",
      "service.create",
      "service.update",
    ]) {
      expect(await auditCount(action)).toBeGreaterThan(0);
    }
  });

  test("search finds machines by name, address, site and customer", async () => {
    const byName = await p.admin.page("/machines/rows?q=Press%207");
    expect(byName).toContain("Press 7");
    expect(byName).not.toContain("Press 8");
    expect(await p.admin.page("/machines/rows?q=100.64.0.2")).toContain("Press 8");
    expect(await p.admin.page("/machines/rows?q=freiburg")).toContain("Press 7");
    expect(await p.admin.page("/machines/rows?q=%25")).toContain("No machine matches.");
  });

  test('regression: a page past the end shows the last page, not "No machines yet" beside a count', async () => {
    for (const page of ["99999999999999999999", "5", "-3"]) {
      const html = await p.admin.page(`/machines/rows?page=${page}`);
      expect(html).not.toContain("No machines yet");
      expect(html).toContain("Press 7");
      expect(html).not.toContain("previous");
    }
  });

  test("malformed input → 400 naming the field, nothing written", async () => {
    const [gateway] = await p.database.db.select().from(gateways);
    const before = await p.database.db.select({ n: count() }).from(machines);
    const bad = await p.admin.post(`/gateways/${gateway?.id}/machines`, {
      name: "X",
      lanAddress: "999.1.1.1",
    });
    expect(bad.status).toBe(400);
    // Named by the field's visible label, and carried for the page to place beside the field.
    const badPage = await bad.text();
    expect(badPage).toContain("LAN address: must be an IPv4 address");
    expect(badPage).toContain("data-problems=");
    expect(badPage).not.toContain("lanAddress: must");
    const loopback = await p.admin.post(`/gateways/${gateway?.id}/machines`, {
      name: "X",
      lanAddress: "127.0.0.1",
    });
    expect(await loopback.text()).toContain("must be a unicast host address");
    // Regression: 100.64.0.5 (inside the proxy pool) was accepted, though the README says LANs
    // must not use the pools.
    const inPool = await p.admin.post(`/gateways/${gateway?.id}/machines`, {
      name: "X",
      lanAddress: "100.64.0.5",
    });
    expect(inPool.status).toBe(400);
    expect((await inPool.text()).replace(/<[^>]+>/g, "")).toContain(
      "LAN address: 100.64.0.5 lies in the proxy pool 100.64.0.0/10 (MEETPOINT_PROXY_POOL)",
    );
    const [existing] = await p.database.db.select().from(machines);
    const moved = await p.admin.post(`/machines/${existing?.id}`, {
      name: existing?.name ?? "",
      lanAddress: "100.127.0.9",
    });
    expect(moved.status).toBe(400);
    // The broadcast the message names is refused; an address ending in .255 is a host in a LAN
    // wider than /24 and is accepted (the message no longer claims otherwise).
    const broadcast = await p.admin.post(`/gateways/${gateway?.id}/machines`, {
      name: "X",
      lanAddress: "255.255.255.255",
    });
    expect(await broadcast.text()).toContain("such as the broadcast 255.255.255.255");
    const noName = await p.admin.post(`/gateways/${gateway?.id}/machines`, {
      name: "  ",
      lanAddress: "10.0.0.1",
    });
    expect(await noName.text()).toContain("Name: is required");
    const [machine] = await p.database.db.select().from(machines);
    const port = await p.admin.post(`/machines/${machine?.id}/services`, {
      name: "Bad",
      protocol: "tcp",
      port: "70000",
    });
    expect(port.status).toBe(400);
    expect(await port.text()).toContain("Port: must be between 1 and 65535");
    const proto = await p.admin.post(`/machines/${machine?.id}/services`, {
      name: "Bad",
      protocol: "icmp",
      port: "1",
    });
    expect(await proto.text()).toContain("Protocol: must be tcp or udp");
    const after = await p.database.db.select({ n: count() }).from(machines);
    expect(after).toEqual(before);
  });

  test("regression: a refused role grant names the form's field (Customer), not customerId", async () => {
    await p.admin.get("/users");
    const created = await p.admin.post("/users", { username: "grant-x", displayName: "Grant X" });
    const [user] = await p.database.db.select().from(users).where(eq(users.username, "grant-x"));
    expect(created.status).toBe(303);
    await p.admin.get(`/users/${user?.id}`);
    const refused = await p.admin.post(`/users/${user?.id}/roles`, {
      role: "technician",
      customerId: "",
    });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("Customer: Technician needs a customer");
  });

  test("duplicates → 409 with a clear message, nothing half-written", async () => {
    const auditBefore = await auditCount("customer.create");
    const dup = await p.admin.post("/customers", { name: "ACME Stamping" });
    expect(dup.status).toBe(409);
    expect(await dup.text()).toContain("A customer with this name exists already.");
    expect(await auditCount("customer.create")).toBe(auditBefore);

    const [gateway] = await p.database.db.select().from(gateways);
    const sameLan = await p.admin.post(`/gateways/${gateway?.id}/machines`, {
      name: "Another",
      lanAddress: "192.168.0.10",
    });
    expect(sameLan.status).toBe(409);
    expect(await sameLan.text()).toContain("machine with this LAN address already");
    const [machine] = await p.database.db
      .select()
      .from(machines)
      .where(eq(machines.name, "Press 7"));
    const samePort = await p.admin.post(`/machines/${machine?.id}/services`, {
      name: "Web 2",
      protocol: "tcp",
      port: "443",
    });
    expect(await samePort.text()).toContain("service on this protocol and port already");
  });

  test("names with HTML or htmx attributes render as inert text", async () => {
    const evil = `<img src=x onerror=alert(1)><div hx-get="/users" hx-trigger="load">`;
    const id = idFrom(await p.admin.post("/customers", { name: evil }));
    const html = await p.admin.page(`/customers/${id}`);
    expect(html).not.toContain("<img src=x");
    expect(html).not.toContain('<div hx-get="/users"');
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
  });

  test("a customer that still has sites cannot be deleted; an empty one can", async () => {
    const [site] = await p.database.db.select().from(sites);
    const blocked = await p.admin.post(`/customers/${site?.customerId}/delete`);
    expect(blocked.status).toBe(409);
    const refusal = await blocked.text();
    expect(refusal).toContain("still in use");
    // What still belongs to it is listed, each linked to its page.
    expect(refusal).toContain(`site <a href="/sites/${site?.id}">${site?.name}</a>`);
    const id = idFrom(await p.admin.post("/customers", { name: "Short-lived" }));
    expect((await p.admin.post(`/customers/${id}/delete`)).status).toBe(303);
    expect(await p.database.db.select().from(customers).where(eq(customers.id, id))).toHaveLength(
      0,
    );
    // The refused delete is audited as denied, with what was in the way; the real one as ok.
    const deletes = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, "customer.delete"))
      .orderBy(auditEntries.seq);
    expect(deletes.map((e) => e.result)).toEqual(["denied", "ok"]);
    expect(deletes[0]?.detail).toMatchObject({
      reason: "still in use",
      inUse: [`site ${site?.name}`],
    });
  });

  test("unknown and malformed ids → 404", async () => {
    for (const path of [
      "/customers/00000000-0000-4000-8000-000000000000",
      "/machines/not-a-uuid",
      "/gateways/%27%3B--",
      "/sites/1",
    ]) {
      expect((await p.admin.get(path)).status).toBe(404);
    }
    expect(
      (await p.admin.post("/services/00000000-0000-4000-8000-000000000000/delete")).status,
    ).toBe(404);
  });

  test("missing or stale CSRF token → 403 and nothing changes", async () => {
    const before = await p.database.db.select({ n: count() }).from(customers);
    const missing = await p.admin.request("POST", "/customers", {
      form: { name: "Forged" },
      csrf: null,
    });
    expect(missing.status).toBe(403);
    const stale = await p.admin.request("POST", "/customers", {
      form: { name: "Forged" },
      csrf: "stale-token-from-another-session",
    });
    expect(stale.status).toBe(403);
    expect(await stale.text()).toContain("This form has expired");
    expect(await p.database.db.select({ n: count() }).from(customers)).toEqual(before);
  });

  test("oversized form → 413", async () => {
    const response = await p.admin.post("/customers", { name: "x".repeat(100_000) });
    expect(response.status).toBe(413);
  });

  test("renaming a gateway is audited", async () => {
    const [gateway] = await p.database.db.select().from(gateways);
    await p.admin.get(`/gateways/${gateway?.id}`);
    expect((await p.admin.post(`/gateways/${gateway?.id}`, { name: "Hall 3 (new)" })).status).toBe(
      303,
    );
    expect(await auditCount("gateway.update")).toBe(1);
  });
});

describe("proxy address pool", () => {
  test("an exhausted pool is a clear error; a freed block is reused", async () => {
    const small = await testPlatform({ pool: "100.64.0.0/23", blockPrefix: 24 });
    try {
      const admin = small.admin;
      await admin.get("/customers");
      const customerId = idFrom(await admin.post("/customers", { name: "Tiny" }));
      const siteId = idFrom(
        await admin.post(`/customers/${customerId}/sites`, { name: "Only site" }),
      );
      expect((await admin.post(`/sites/${siteId}/gateways`, { name: "G1" })).status).toBe(303);
      expect((await admin.post(`/sites/${siteId}/gateways`, { name: "G2" })).status).toBe(303);
      const third = await admin.post(`/sites/${siteId}/gateways`, { name: "G3" });
      expect(third.status).toBe(409);
      expect(await third.text()).toContain(
        'The proxy address pool <span class="token">100.64.0.0/23</span> is exhausted',
      );
      const [g1] = await small.database.db.select().from(gateways).where(eq(gateways.name, "G1"));
      expect((await admin.post(`/gateways/${g1?.id}/delete`)).status).toBe(303);
      expect((await admin.post(`/sites/${siteId}/gateways`, { name: "G3" })).status).toBe(303);
      const [g3] = await small.database.db.select().from(gateways).where(eq(gateways.name, "G3"));
      expect(g3?.proxyBlock).toBe(0);
    } finally {
      await small.dispose();
    }
  });

  test("a full gateway block is a clear error", async () => {
    const small = await testPlatform({ pool: "100.64.0.0/28", blockPrefix: 30 });
    try {
      const admin = small.admin;
      await admin.get("/customers");
      const customerId = idFrom(await admin.post("/customers", { name: "Tiny" }));
      const siteId = idFrom(
        await admin.post(`/customers/${customerId}/sites`, { name: "Only site" }),
      );
      const html = await (
        await admin.postShownOnce(`/sites/${siteId}/gateways`, { name: "G1" })
      ).text();
      const gatewayId = html.match(/Gateway id<\/dt><dd class="mono">([0-9a-f-]{36})/)?.[1];
      expect(
        (
          await admin.post(`/gateways/${gatewayId}/machines`, {
            name: "M1",
            lanAddress: "10.0.0.1",
          })
        ).status,
      ).toBe(303);
      expect(
        (
          await admin.post(`/gateways/${gatewayId}/machines`, {
            name: "M2",
            lanAddress: "10.0.0.2",
          })
        ).status,
      ).toBe(303);
      const third = await admin.post(`/gateways/${gatewayId}/machines`, {
        name: "M3",
        lanAddress: "10.0.0.3",
      });
      expect(third.status).toBe(409);
      expect(await third.text()).toContain("proxy address block is full");
    } finally {
      await small.dispose();
    }
  });
});
