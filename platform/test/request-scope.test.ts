// What a request may ask for and what its approval grants, on a recording data plane with a manual
// clock: read-only per request (Modbus/TCP services only; the gateway learns the mode per session,
// with the technician's address, so a full and a read-only technician share one machine), an
// approval clamped to the site's current maximum and the machine's enabled services, and the audit
// query of the transparency report served by its expression index.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { auditEntries, gatewaySessions, inTransaction, remoteSessions } from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import {
  createCustomer,
  createGateway,
  createMachine,
  createService,
  createSite,
  setServiceEnabled,
} from "../src/masterdata/index.ts";
import { sessionEntriesQuery } from "../src/reports/index.ts";
import { dataChannelProfile, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { type Browser, firstSignIn } from "./support/portal.ts";

let p: TestPlatform;
let plant: { siteId: string; gatewayId: string; secret: string; machineId: string };
let modbus: string;
let web: string;
let vnc: string;
let tech1: Browser;
let tech2: Browser;
let custAdmin: Browser;
let connection = 0;

interface SeenSession {
  id: string;
  services: { port: number; mode?: string }[];
  technicianAddress?: string;
}

/** The operator's Connect on the gateway: its data channel connects and goes online. */
async function arm(gateway: { gatewayId: string; secret: string }): Promise<void> {
  const response = await p.app.request("https://localhost/api/gateway/v1/data-channel", {
    method: "POST",
    headers: {
      authorization: `Bearer ${gateway.gatewayId}.${gateway.secret}`,
      "content-type": "application/json",
    },
    body: "{}",
  });
  const { envelope } = (await response.json()) as { envelope: string };
  const profile = await dataChannelProfile(p, gateway.gatewayId, envelope);
  expect((await p.access.connections.decide(`0:${++connection}`, serialOf(profile))).allow).toBe(
    true,
  );
}

/** What the gateway's heartbeat tells it to let through, as an agent with (or without) the filter. */
async function gatewaySees(capabilities: string[]): Promise<SeenSession[]> {
  const [channel] = await p.database.db
    .select()
    .from(gatewaySessions)
    .where(eq(gatewaySessions.gatewayId, plant.gatewayId));
  const response = await p.app.request("https://localhost/api/gateway/v1/heartbeat", {
    method: "POST",
    headers: {
      authorization: `Bearer ${plant.gatewayId}.${plant.secret}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({
      state: "online",
      gatewaySessionId: channel?.id ?? null,
      agentVersion: "0.1.0",
      openvpnVersion: "2.6.12",
      localTime: p.clock.now().toISOString(),
      lastError: null,
      capabilities,
    }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { remoteSessions: SeenSession[] }).remoteSessions;
}

async function session(id: string) {
  const [row] = await p.database.db.select().from(remoteSessions).where(eq(remoteSessions.id, id));
  if (!row) throw new Error(`no session ${id}`);
  return row;
}

async function sessionCount(): Promise<number> {
  return (await p.database.db.select().from(remoteSessions)).length;
}

/** A technician's Connect form; the response as it came (303 to the request, or an error). */
async function connect(tech: Browser, form: Record<string, string>) {
  await tech.get(`/machines/${plant.machineId}`);
  return tech.post(`/machines/${plant.machineId}/connect`, {
    reason: "read the counters",
    ...form,
  });
}

async function ask(tech: Browser, form: Record<string, string>): Promise<string> {
  const response = await connect(tech, form);
  const location = response.headers.get("location") ?? "";
  if (response.status !== 303 || !location.startsWith("/requests/"))
    throw new Error(`Connect answered ${response.status} → ${location}: ${await response.text()}`);
  return location.slice("/requests/".length);
}

async function approve(id: string) {
  await custAdmin.get("/sessions");
  return custAdmin.post(`/requests/${id}/approve`);
}

async function setPolicy(maxSessionMinutes: number) {
  await custAdmin.get(`/sites/${plant.siteId}`);
  const saved = await custAdmin.post(`/sites/${plant.siteId}/consent`, {
    consentPolicy: "customer_approval",
    maxSessionMinutes: String(maxSessionMinutes),
    requestExpiryMinutes: "30",
  });
  expect(saved.status).toBe(303);
}

async function signIn(username: string, grant: Parameters<typeof grantRole>[2]) {
  const u = await createUser(p.adminCtx, { username, displayName: username.toUpperCase() });
  await grantRole(p.adminCtx, u.user.id, grant);
  return (await firstSignIn(p.app, p.database.db, p.clock, username, u.password)).browser;
}

beforeAll(async () => {
  p = await testPlatform();
  const customer = await createCustomer(p.adminCtx, { name: "ACME" });
  const siteId = (await createSite(p.adminCtx, customer.id, { name: "Plant" })).id;
  const { gateway, secret } = await createGateway(p.adminCtx, p.proxyPool, siteId, {
    name: "Hall 1",
  });
  const machine = await createMachine(p.adminCtx, p.proxyPool, gateway.id, {
    name: "Press",
    lanAddress: "192.168.0.10",
  });
  plant = { siteId, gatewayId: gateway.id, secret, machineId: machine.id };
  const made = async (name: string, port: number) =>
    (await createService(p.adminCtx, machine.id, { name, protocol: "tcp", port, enabled: true }))
      .id;
  modbus = await made("PLC", 502);
  web = await made("Web", 443);
  vnc = await made("VNC", 5900);
  tech1 = await signIn("tech1", { role: "technician", customerId: customer.id });
  tech2 = await signIn("tech2", { role: "technician", customerId: customer.id });
  custAdmin = await signIn("custadmin", { role: "customer_admin", customerId: customer.id });
  await setPolicy(120);
  await arm(plant);
}, 120_000);
afterAll(() => p.dispose());

describe("read-only per request", () => {
  test("read_only on a service that is not Modbus/TCP is a 400 on mode naming it, and stores nothing", async () => {
    const before = await sessionCount();
    const refused = await connect(tech1, {
      servicesChosen: "1",
      [`service.${modbus}`]: "on",
      [`service.${web}`]: "on",
      mode: "read_only",
    });
    expect(refused.status).toBe(400);
    const text = await refused.text();
    expect(text).toContain("mode");
    expect(text).toContain("Web (tcp/443)");
    const bogus = await connect(tech1, { mode: "write_some" });
    expect(bogus.status).toBe(400);
    expect(await bogus.text()).toContain("must be full or read_only");
    expect(await sessionCount()).toBe(before);
  });

  test("format characters (bidi override, zero-width) in the reason or ticket: 400 naming the field, nothing stored", async () => {
    const before = await sessionCount();
    for (const [form, field] of [
      [{ reason: "read \u202Eslatnuoc eht" }, "reason"],
      [{ ticket: "T-1\u200B2" }, "ticket"],
    ] as const) {
      const refused = await connect(tech1, form);
      const text = await refused.text();
      expect(refused.status, text.slice(0, 300)).toBe(400);
      expect(text).toContain(`data-field="${field}"`);
      expect(text).toContain("Unicode Cf");
    }
    expect(await sessionCount()).toBe(before);
  });

  test("the form offers the mode; a read-only request on the Modbus service is stored with its mode and shown to the approver", async () => {
    expect(await tech1.page(`/machines/${plant.machineId}`)).toContain('value="read_only"');
    const id = await ask(tech1, {
      servicesChosen: "1",
      [`service.${modbus}`]: "on",
      mode: "read_only",
    });
    const row = await session(id);
    expect(row.mode).toBe("read_only");
    expect(row.services).toEqual([
      expect.objectContaining({ port: 502, mode: "modbus-read-only" }),
    ]);
    const pending = await custAdmin.page("/sessions");
    expect(pending).toContain(`/requests/${id}/approve`);
    expect(pending).toContain('data-mode="read_only"');
    expect(await tech1.page(`/requests/${id}`)).toContain("read-only (Modbus reads only");
    const [entry] = await p.database.db
      .select()
      .from(auditEntries)
      .where(sql`${auditEntries.detail}->>'remoteSessionId' = ${id}`);
    expect(entry?.detail).toMatchObject({
      mode: "read_only",
      services: ["tcp/502 read-only Modbus"],
    });
  });

  test("a read-only and a full technician on one machine: the gateway learns each session's own mode and source address", async () => {
    const readOnly = (await p.database.db.select().from(remoteSessions)).find(
      (s) => s.mode === "read_only",
    );
    if (!readOnly) throw new Error("no read-only request");
    const full = await ask(tech2, { servicesChosen: "1", [`service.${modbus}`]: "on" });
    expect((await session(full)).services).toEqual([
      expect.objectContaining({ port: 502, mode: "full" }),
    ]);
    expect((await approve(readOnly.id)).status).toBe(303);
    expect((await approve(full)).status).toBe(303);
    const seen = await gatewaySees(["modbus-read-only"]);
    const ro = seen.find((s) => s.id === readOnly.id);
    const rw = seen.find((s) => s.id === full);
    expect(ro?.services).toEqual([
      expect.objectContaining({ port: 502, mode: "modbus-read-only" }),
    ]);
    expect(ro?.technicianAddress).toBe(readOnly.tunnelAddress);
    expect(rw?.services).toEqual([expect.objectContaining({ port: 502, mode: "full" })]);
    expect(rw?.technicianAddress).toBe((await session(full)).tunnelAddress);
    expect(rw?.technicianAddress).not.toBe(ro?.technicianAddress);
    // An agent without the filter would forward it in full: it gets the read-only service not at all.
    const old = await gatewaySees([]);
    expect(old.find((s) => s.id === readOnly.id)?.services).toEqual([]);
    expect(old.find((s) => s.id === full)?.services).toEqual([
      expect.objectContaining({ port: 502 }),
    ]);
  });

  test("the transparency report of the ended read-only session shows its mode", async () => {
    const readOnly = (await p.database.db.select().from(remoteSessions)).find(
      (s) => s.mode === "read_only",
    );
    if (!readOnly) throw new Error("no read-only session");
    await tech1.get("/sessions");
    expect((await tech1.post(`/sessions/${readOnly.id}/disconnect`)).status).toBe(303);
    const file = (await (await custAdmin.get(`/sessions/${readOnly.id}/report.json`)).json()) as {
      report: { session: { mode: string }; services: { port: number; mode: string }[] };
    };
    expect(file.report.session.mode).toBe("read_only");
    expect(file.report.services).toEqual([
      expect.objectContaining({ port: 502, mode: "modbus-read-only" }),
    ]);
    expect(await custAdmin.page(`/sessions/${readOnly.id}/report`)).toContain(
      'data-report-mode="read_only"',
    );
  });
});

describe("approval under the site's current rules", () => {
  test("a maximum lowered and a service disabled since the request: the approval grants less and says what it cut", async () => {
    const id = await ask(tech1, {
      servicesChosen: "1",
      [`service.${web}`]: "on",
      [`service.${vnc}`]: "on",
      minutes: "50",
    });
    expect((await session(id)).durationSeconds).toBe(3000);
    await setPolicy(20);
    await setServiceEnabled(p.adminCtx, vnc, false);
    p.clock.advance(60_000);
    const approvedAt = p.clock.now();
    const approved = await approve(id);
    expect(approved.headers.get("location")).toBe("/sessions?decision=approved_clamped");
    expect(await custAdmin.page("/sessions?decision=approved_clamped")).toContain(
      "Request allowed, clamped to the site",
    );
    const row = await session(id);
    expect(row.state).toBe("requested");
    expect(row.durationSeconds).toBe(1200);
    expect(row.services.map((s) => s.port)).toEqual([443]);
    expect(row.endsAt.getTime()).toBe(approvedAt.getTime() + 1200_000);
    const [entry] = await p.database.db
      .select()
      .from(auditEntries)
      .where(
        sql`${auditEntries.action} = 'remote_session.approve' and ${auditEntries.detail}->>'remoteSessionId' = ${id}`,
      );
    expect(entry?.detail).toMatchObject({
      services: ["tcp/443"],
      minutes: 20,
      clamped: [
        "duration cut from 50 to 20 minutes (the site's maximum now)",
        "VNC (tcp/5900) not granted: no longer an enabled service of the machine",
      ],
    });
    // The gateway opens exactly what was granted.
    const seen = (await gatewaySees(["modbus-read-only"])).find((s) => s.id === id);
    expect(seen?.services.map((s) => s.port)).toEqual([443]);
  });

  test("no requested service left enabled: 409 with the reason, the request stays pending", async () => {
    await setServiceEnabled(p.adminCtx, vnc, true);
    const id = await ask(tech2, { servicesChosen: "1", [`service.${vnc}`]: "on" });
    await setServiceEnabled(p.adminCtx, vnc, false);
    const refused = await approve(id);
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain("None of the requested services is still enabled");
    expect((await session(id)).state).toBe("pending");
    expect(
      await p.database.db
        .select()
        .from(auditEntries)
        .where(
          sql`${auditEntries.action} = 'remote_session.approve' and ${auditEntries.detail}->>'remoteSessionId' = ${id}`,
        ),
    ).toEqual([]);
  });
});

describe("the transparency report's audit query", () => {
  test("uses the expression index on detail->>'remoteSessionId'", async () => {
    const [any] = await p.database.db.select().from(remoteSessions).limit(1);
    if (!any) throw new Error("no session");
    const query = sessionEntriesQuery(p.database.db, any.id).toSQL();
    expect(query.params).toEqual([any.id]);
    const literal = query.sql.replace("$1", `'${any.id}'`);
    // The test's log is small, so the planner would rightly scan it: forbid that for this
    // statement, as a log of millions of entries would; only a usable index then avoids a scan.
    const plan = await inTransaction(p.database.db, async (tx) => {
      await tx.execute(sql`set local enable_seqscan = off`);
      const result = await tx.execute(sql.raw(`explain ${literal}`));
      const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as {
        "QUERY PLAN": string;
      }[];
      return rows.map((r) => r["QUERY PLAN"]).join("\n");
    });
    expect(plan).toContain("audit_entries_remote_session");
    expect(plan).not.toContain("Seq Scan");
    // And the report still finds the session's entries through it.
    expect((await sessionEntriesQuery(p.database.db, any.id)).length).toBeGreaterThan(0);
  });
});
