// Maintenance windows through the portal and the gateway API, on a recording data plane with a
// manual clock: the site's window settings; the operator's window from the gateway's UI and a
// customer approver's in the portal; inside an open window a matching request is approved at once
// (audited as the window's), its end clamped to the window's; outside it the site's policy applies;
// weekly occurrences; every session of the window cut at its end; cancel ends its sessions; bad input.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { desc, eq } from "drizzle-orm";
import { auditEntries, gatewaySessions, remoteSessions } from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import {
  createCustomer,
  createGateway,
  createMachine,
  createService,
  createSite,
} from "../src/masterdata/index.ts";
import { dataChannelProfile, gatewayCall, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { type Browser, firstSignIn } from "./support/portal.ts";

let p: TestPlatform;
let plant: { siteId: string; gatewayId: string; secret: string; machineId: string };
let foreignGatewayId: string;
let customerId: string;
const customerIdOf = () => customerId;
let web: string;
let vnc: string;
let tech1: Browser;
let tech2: Browser;
let custAdmin: Browser;
let foreignAdmin: Browser;
let connection = 0;
const userIds: Record<string, string> = {};
const MIN = 60_000;

/** A call to the gateway API as the plant's gateway. */
function gatewayApi(path: string, body?: unknown) {
  return gatewayCall(p, plant, path, body);
}

async function arm(): Promise<void> {
  const response = await gatewayApi("/data-channel", {});
  const { envelope } = (await response.json()) as { envelope: string };
  const profile = await dataChannelProfile(p, plant.gatewayId, envelope);
  expect((await p.access.connections.decide(`0:${++connection}`, serialOf(profile))).allow).toBe(
    true,
  );
}

function profileFromPage(html: string): string {
  const data = html.match(
    /href="data:application\/x-openvpn-profile;base64,([A-Za-z0-9+/=]+)"/,
  )?.[1];
  if (!data) throw new Error("no profile on the page");
  return Buffer.from(data, "base64").toString();
}

const at = (offsetMs: number) => new Date(p.clock.now().getTime() + offsetMs).toISOString();

/** A technician's Connect at the plant; the newest session of theirs, and where the portal sent them. */
async function connect(tech: Browser, who: string, form: Record<string, string> = {}) {
  await tech.get(`/machines/${plant.machineId}`);
  const response = await tech.post(`/machines/${plant.machineId}/connect`, {
    reason: "axis 3 fault",
    servicesChosen: "1",
    ...form,
  });
  expect(response.status, (await response.clone().text()).slice(0, 600)).toBe(303);
  const [row] = await p.database.db
    .select()
    .from(remoteSessions)
    .where(eq(remoteSessions.technicianId, userIds[who] ?? ""))
    .orderBy(desc(remoteSessions.requestedAt), desc(remoteSessions.createdAt))
    .limit(1);
  if (!row) throw new Error("no session");
  return { row, location: response.headers.get("location") ?? "" };
}

async function session(id: string) {
  const [row] = await p.database.db.select().from(remoteSessions).where(eq(remoteSessions.id, id));
  if (!row) throw new Error(`no session ${id}`);
  return row;
}

async function audits(action: string) {
  return p.database.db.select().from(auditEntries).where(eq(auditEntries.action, action));
}

async function signIn(username: string, grant: Parameters<typeof grantRole>[2]) {
  const u = await createUser(p.adminCtx, { username, displayName: username.toUpperCase() });
  await grantRole(p.adminCtx, u.user.id, grant);
  userIds[username] = u.user.id;
  return (await firstSignIn(p.app, p.database.db, p.clock, username, u.password)).browser;
}

/** Creates a window in the portal as the customer admin; returns the answer. */
function portalWindow(form: Record<string, string>) {
  return custAdmin.post(`/gateways/${plant.gatewayId}/windows`, { mode: "full", ...form });
}

beforeAll(async () => {
  p = await testPlatform();
  const customer = await createCustomer(p.adminCtx, { name: "ACME" });
  customerId = customer.id;
  const siteId = (await createSite(p.adminCtx, customer.id, { name: "Plant" })).id;
  const { gateway, secret } = await createGateway(p.adminCtx, p.proxyPool, siteId, {
    name: "Hall 1",
  });
  const machine = await createMachine(p.adminCtx, p.proxyPool, gateway.id, {
    name: "Press",
    lanAddress: "192.168.0.10",
  });
  plant = { siteId, gatewayId: gateway.id, secret, machineId: machine.id };
  web = (
    await createService(p.adminCtx, machine.id, {
      name: "Web",
      protocol: "tcp",
      port: 443,
      enabled: true,
    })
  ).id;
  vnc = (
    await createService(p.adminCtx, machine.id, {
      name: "VNC",
      protocol: "tcp",
      port: 5900,
      enabled: true,
    })
  ).id;
  const foreign = await createCustomer(p.adminCtx, { name: "Other" });
  const foreignSite = await createSite(p.adminCtx, foreign.id, { name: "Elsewhere" });
  foreignGatewayId = (
    await createGateway(p.adminCtx, p.proxyPool, foreignSite.id, { name: "Theirs" })
  ).gateway.id;
  tech1 = await signIn("tech1", { role: "technician", customerId: customer.id });
  tech2 = await signIn("tech2", { role: "technician", customerId: customer.id });
  custAdmin = await signIn("custadmin", { role: "customer_admin", customerId: customer.id });
  foreignAdmin = await signIn("foreign", { role: "customer_admin", customerId: foreign.id });
  // Requests at this site need a customer approver's decision (outside windows).
  await custAdmin.get(`/sites/${siteId}`);
  expect(
    (
      await custAdmin.post(`/sites/${siteId}/consent`, {
        consentPolicy: "customer_approval",
        maxSessionMinutes: "120",
        requestExpiryMinutes: "10",
      })
    ).status,
  ).toBe(303);
  await arm();
}, 120_000);
afterAll(() => p.dispose());

describe("who creates windows", () => {
  test("by default only the operator: the portal refuses (403) and says so; the site's setting is audited", async () => {
    const page = await custAdmin.page(`/gateways/${plant.gatewayId}/windows`);
    expect(page).toContain("only the operator creates maintenance windows");
    const refused = await portalWindow({ start: at(MIN), end: at(10 * MIN), reason: "service" });
    expect(refused.status).toBe(403);
    await custAdmin.get(`/sites/${plant.siteId}`);
    const saved = await custAdmin.post(`/sites/${plant.siteId}/windows`, {
      windowCreators: "operator_and_customer",
    });
    expect(saved.status).toBe(303);
    const [entry] = await audits("site.window_policy");
    expect(entry?.detail).toMatchObject({
      from: { windowCreators: "operator", windowsMayOverlap: false },
      to: { windowCreators: "operator_and_customer", windowsMayOverlap: false },
    });
    await tech1.get(`/sites/${plant.siteId}`);
    expect(
      (await tech1.post(`/sites/${plant.siteId}/windows`, { windowCreators: "operator" })).status,
    ).toBe(403);
  });

  test("bad input is 400 at the field; another customer's gateway is 404", async () => {
    await custAdmin.get(`/gateways/${plant.gatewayId}/windows`);
    const cases: [Record<string, string>, string, string][] = [
      [{ start: at(10 * MIN), end: at(5 * MIN) }, "end", "after the start"],
      [{ start: at(-5 * MIN), end: at(5 * MIN) }, "start", "past"],
      [{ start: at(MIN), end: at(8 * 24 * 60 * MIN), weekly: "on" }, "end", "at most a week"],
      [
        { start: at(MIN), end: at(5 * MIN), [`technician.${userIds.custadmin}`]: "on" },
        "technicians",
        "no technician",
      ],
      [{ start: at(MIN), end: at(5 * MIN), mode: "read_only" }, "mode", "read-only Modbus"],
      [{ start: "tomorrow", end: at(5 * MIN) }, "start", "date and time"],
      // A bidi override would reorder what the operator and the technicians read.
      [{ start: at(MIN), end: at(5 * MIN), reason: "fix \u202Eevil" }, "reason", "Unicode Cf"],
    ];
    for (const [form, field, words] of cases) {
      const answer = await portalWindow({ reason: "service", ...form });
      const text = await answer.text();
      expect(answer.status, `${field}: ${text.slice(0, 200)}`).toBe(400);
      expect(text).toContain(`data-field="${field}"`);
      expect(text).toContain(words);
    }
    await foreignAdmin.get("/sessions");
    const foreign = await foreignAdmin.post(`/gateways/${plant.gatewayId}/windows`, {
      start: at(MIN),
      end: at(5 * MIN),
      reason: "service",
    });
    expect(foreign.status).toBe(404);
    expect((await custAdmin.get(`/gateways/${foreignGatewayId}/windows`)).status).toBe(404);
    // A workstation has no agent that could arm at the start: 409.
    const { gateway: pc } = await createGateway(p.adminCtx, p.proxyPool, plant.siteId, {
      name: "Office PC",
      kind: "workstation",
    });
    await custAdmin.get(`/gateways/${pc.id}`);
    const workstation = await custAdmin.post(`/gateways/${pc.id}/windows`, {
      start: at(MIN),
      end: at(5 * MIN),
      reason: "service",
    });
    expect(workstation.status).toBe(409);
    expect(await workstation.text()).toContain("no gateway agent");
    expect((await audits("maintenance_window.create")).length).toBe(0);
  });
});

describe("a window from the gateway's UI", () => {
  let windowId: string;
  let sessionId: string;
  let windowEnd: Date;

  test("the operator creates it through the gateway API; overlapping another is 400 naming it", async () => {
    const created = await gatewayApi("/windows", {
      start: at(2 * MIN),
      end: at(22 * MIN),
      technicians: [userIds.tech1],
      services: [web],
      reason: "weekly retrofit",
    });
    expect(created.status, await created.clone().text()).toBe(201);
    windowId = ((await created.json()) as { id: string }).id;
    windowEnd = new Date(p.clock.now().getTime() + 22 * MIN);
    const [entry] = await audits("maintenance_window.create");
    expect(entry).toMatchObject({ actorName: "operator at gateway Hall 1" });
    expect(entry?.detail).toMatchObject({ windowId, where: "gateway", services: [web] });
    const clash = await portalWindow({ start: at(10 * MIN), end: at(30 * MIN), reason: "other" });
    expect(clash.status).toBe(400);
    expect(await clash.text()).toContain(windowId);
    const viaApi = await gatewayApi("/windows", {
      start: at(20 * MIN),
      end: at(10 * MIN),
      reason: "backwards",
    });
    expect(viaApi.status).toBe(400);
    expect(((await viaApi.json()) as { error: { field: string } }).error.field).toBe("end");
    const list = (await (await gatewayApi("/windows")).json()) as {
      windows: { id: string; state: string; technicians: string[] }[];
    };
    expect(list.windows).toEqual([
      expect.objectContaining({ id: windowId, state: "upcoming", technicians: ["TECH1"] }),
    ]);
  });

  test("the heartbeat tells an agent that arms for windows the coming day's occurrence", async () => {
    const [channel] = await p.database.db
      .select()
      .from(gatewaySessions)
      .where(eq(gatewaySessions.gatewayId, plant.gatewayId));
    const beat = async (capabilities: string[]) =>
      (await (
        await gatewayApi("/heartbeat", {
          state: "online",
          gatewaySessionId: channel?.id ?? null,
          agentVersion: "0.1.0",
          openvpnVersion: "2.6.12",
          localTime: p.clock.now().toISOString(),
          lastError: null,
          capabilities,
        })
      ).json()) as { maintenanceWindows?: { id: string; start: string; end: string }[] };
    expect((await beat(["modbus-read-only"])).maintenanceWindows).toBeUndefined();
    expect((await beat(["maintenance-windows"])).maintenanceWindows).toEqual([
      expect.objectContaining({ id: windowId, end: windowEnd.toISOString() }),
    ]);
  });

  test("before the window a request waits for a customer approver (the site's policy)", async () => {
    const { row, location } = await connect(tech1, "tech1", { [`service.${web}`]: "on" });
    expect(row.state).toBe("pending");
    expect(location).toBe(`/requests/${row.id}`);
    expect(row.windowId).toBeNull();
    // Withdrawn: it is not what this test is about.
    await tech1.get(`/requests/${row.id}`);
    await tech1.post(`/sessions/${row.id}/disconnect`);
  });

  test("inside it a matching request is approved at once by the window; its end is the window's", async () => {
    p.clock.advance(3 * MIN);
    const { row, location } = await connect(tech1, "tech1", {
      [`service.${web}`]: "on",
    });
    sessionId = row.id;
    expect(location, JSON.stringify(row)).toStartWith("/once/");
    // The technician connects with the one-time .ovpn: the session is active.
    const profile = profileFromPage(await tech1.page(location));
    expect((await p.access.connections.decide(`0:${++connection}`, serialOf(profile))).allow).toBe(
      true,
    );
    expect((await session(row.id)).state).toBe("active");
    expect(row).toMatchObject({ state: "requested", windowId });
    expect(row.approvedAt?.getTime()).toBe(p.clock.now().getTime());
    expect(row.endsAt.getTime()).toBe(windowEnd.getTime());
    const approvals = (await audits("remote_session.approve")).filter(
      (e) => (e.detail as { remoteSessionId?: string }).remoteSessionId === row.id,
    );
    expect(approvals).toHaveLength(1);
    expect(approvals[0]?.detail).toMatchObject({
      where: "maintenance window",
      approvedBy: `maintenance window ${windowId}, created by operator at gateway Hall 1`,
    });
    // The window approved, not the technician: the entry's actor is the window.
    expect(approvals[0]).toMatchObject({
      actorId: null,
      actorName: `maintenance window ${windowId}`,
    });
  });

  test("a request the window does not cover waits: another technician, or a service outside it", async () => {
    const other = await connect(tech2, "tech2", { [`service.${web}`]: "on" });
    expect(other.row.state).toBe("pending");
    const wider = await connect(tech1, "tech1", { [`service.${vnc}`]: "on" });
    expect(wider.row.state).toBe("pending");
  });

  test("at the window's end its session is cut by the next tick", async () => {
    p.clock.advance(windowEnd.getTime() - p.clock.now().getTime() - 1);
    await p.access.ends.endDue();
    expect((await session(sessionId)).state).not.toBe("ended");
    p.clock.advance(1);
    const started = performance.now();
    await p.access.ends.endDue();
    const tickMs = performance.now() - started;
    const ended = await session(sessionId);
    // Its end was the window's: said as such, not as the session's own end time.
    expect(ended).toMatchObject({ state: "ended", endReason: "window_ended" });
    expect(ended.endedAt?.getTime()).toBe(windowEnd.getTime());
    // The tick runs every second: the cut lands at most 1 s + this tick's own time after the end.
    console.log(
      `window end → session cut: tick took ${tickMs.toFixed(1)} ms (tick interval 1000 ms)`,
    );
    expect(tickMs).toBeLessThan(1000);
    // Its grants are gone and its OpenVPN connection killed.
    expect(
      [...p.dataPlane.grants.values()].some((g) => g.technicianAddress === ended.tunnelAddress),
    ).toBe(false);
    expect(p.dataPlane.disconnected).toContain(ended.connection ?? "none");
    // The customer's transparency report names the window as the approval.
    const report = await custAdmin.page(`/sessions/${sessionId}/report`);
    expect(report).toContain(
      `maintenance window ${windowId}, created by operator at gateway Hall 1 (on the gateway)`,
    );
    expect(report).toContain("the maintenance window that approved it ended");
  });
});

describe("a window from the portal", () => {
  let windowId: string;

  test("a customer approver creates it, the technician's request inside it is approved; Cancel ends it (idempotent)", async () => {
    await custAdmin.get(`/gateways/${plant.gatewayId}/windows`);
    const created = await portalWindow({
      start: at(0),
      end: at(15 * MIN),
      reason: "night shift support",
    });
    expect(created.status).toBe(303);
    windowId = new URL(created.headers.get("location") ?? "", "https://x").searchParams.get(
      "created",
    ) as string;
    const page = await custAdmin.page(`/gateways/${plant.gatewayId}/windows`);
    expect(page).toContain(`data-window="${windowId}" data-window-state="open"`);
    // The list polls itself: its fragment says the same without a reload.
    const fragment = await custAdmin.page(`/gateways/${plant.gatewayId}/windows/list`);
    expect(fragment).toContain('hx-trigger="every 5s"');
    expect(fragment).toContain(`data-window="${windowId}" data-window-state="open"`);
    const { row } = await connect(tech2, "tech2", { [`service.${vnc}`]: "on" });
    expect(row).toMatchObject({ state: "requested", windowId });
    const cancel = await custAdmin.post(`/gateways/${plant.gatewayId}/windows/${windowId}/cancel`);
    expect(cancel.status).toBe(303);
    expect(cancel.headers.get("location")).toContain("cancel=cancelled&ended=1");
    expect(await session(row.id)).toMatchObject({ state: "ended", endReason: "window_cancelled" });
    const again = await custAdmin.post(`/gateways/${plant.gatewayId}/windows/${windowId}/cancel`);
    expect(again.headers.get("location")).toContain("cancel=already_cancelled&ended=0");
    expect(await custAdmin.page(`/gateways/${plant.gatewayId}/windows/list`)).toContain(
      `data-window="${windowId}" data-window-state="cancelled"`,
    );
    expect(await audits("maintenance_window.cancel")).toHaveLength(1);
    // After the cancel the site's policy applies again.
    const later = await connect(tech2, "tech2", { [`service.${vnc}`]: "on" });
    expect(later.row.state).toBe("pending");
  });

  test("the portal cannot cancel the operator's window (403); the gateway can, and twice is a no-op", async () => {
    const created = await gatewayApi("/windows", {
      start: at(MIN),
      end: at(5 * MIN),
      reason: "operator's own",
    });
    const { id } = (await created.json()) as { id: string };
    await custAdmin.get(`/gateways/${plant.gatewayId}/windows`);
    expect((await custAdmin.post(`/gateways/${plant.gatewayId}/windows/${id}/cancel`)).status).toBe(
      403,
    );
    expect(await (await gatewayApi(`/windows/${id}/cancel`, {})).json()).toMatchObject({
      outcome: "cancelled",
    });
    expect(await (await gatewayApi(`/windows/${id}/cancel`, {})).json()).toMatchObject({
      outcome: "already_cancelled",
    });
    // Another gateway's window, or no window at all, is 404 to this gateway.
    expect((await gatewayApi(`/windows/${crypto.randomUUID()}/cancel`, {})).status).toBe(404);
  });
});

describe("no self-approval through a window", () => {
  test("a technician who is also a customer approver: their own window (naming nobody) does not approve their request", async () => {
    const both = await signIn("both", { role: "technician", customerId: customerIdOf() });
    await grantRole(p.adminCtx, userIds.both ?? "", {
      role: "customer_admin",
      customerId: customerIdOf(),
    });
    await both.get(`/gateways/${plant.gatewayId}/windows`);
    const created = await both.post(`/gateways/${plant.gatewayId}/windows`, {
      mode: "full",
      start: at(0),
      end: at(15 * MIN),
      reason: "my own window",
    });
    expect(created.status).toBe(303);
    const id = new URL(created.headers.get("location") ?? "", "https://x").searchParams.get(
      "created",
    );
    const own = await connect(both, "both", { [`service.${web}`]: "on" });
    expect(own.row).toMatchObject({ state: "pending", windowId: null });
    // The same window approves another technician it covers.
    const other = await connect(tech2, "tech2", { [`service.${web}`]: "on" });
    expect(other.row).toMatchObject({ state: "requested", windowId: id });
    await custAdmin.get(`/gateways/${plant.gatewayId}/windows`);
    await custAdmin.post(`/gateways/${plant.gatewayId}/windows/${id}/cancel`);
  });
});

describe("weekly windows", () => {
  test("a weekly window approves in each week's occurrence and nothing between", async () => {
    const created = await gatewayApi("/windows", {
      start: at(MIN),
      end: at(11 * MIN),
      weekly: true,
      technicians: [userIds.tech1],
      reason: "weekly check",
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const start = p.clock.now().getTime() + MIN;
    const ask = (offset: number) =>
      p.access.windows.matching({
        gatewayId: plant.gatewayId,
        technicianId: userIds.tech1 ?? "",
        services: [{ serviceId: web, mode: "full" }],
        at: new Date(start + offset),
      });
    const week = 7 * 24 * 60 * MIN;
    expect(await ask(-1)).toBeNull();
    expect((await ask(0))?.window.id).toBe(id);
    expect(await ask(10 * MIN)).toBeNull();
    expect(await ask(week - 1)).toBeNull();
    const third = await ask(2 * week + 5 * MIN);
    expect(third?.window.id).toBe(id);
    expect(third?.occurrence.end.getTime()).toBe(start + 2 * week + 10 * MIN);
    // It overlaps any later window in the same weekly slot.
    const clash = await gatewayApi("/windows", {
      start: new Date(start + 3 * week + 5 * MIN).toISOString(),
      end: new Date(start + 3 * week + 20 * MIN).toISOString(),
      reason: "clash",
    });
    expect(clash.status).toBe(400);
    expect(((await clash.json()) as { error: { message: string } }).error.message).toContain(id);
    await gatewayApi(`/windows/${id}/cancel`, {});
  });
});

describe("the gateway arms for a window by itself", () => {
  test("only for an open window of its own (409 otherwise); arm and disarm are audited as the window's", async () => {
    const stranger = await gatewayApi("/data-channel", { windowId: crypto.randomUUID() });
    expect(stranger.status).toBe(409);
    expect(((await stranger.json()) as { error: { message: string } }).error.message).toContain(
      "is not open now",
    );
    const created = await gatewayApi("/windows", {
      start: at(0),
      end: at(5 * MIN),
      reason: "arm test",
    });
    const { id } = (await created.json()) as { id: string };
    const armed = await gatewayApi("/data-channel", { windowId: id });
    expect(armed.status).toBe(200);
    const { gatewaySessionId } = (await armed.json()) as { gatewaySessionId: string };
    const [entry] = (await audits("maintenance_window.arm")).filter(
      (e) => (e.detail as { windowId?: string }).windowId === id,
    );
    expect(entry).toMatchObject({ actorName: "gateway Hall 1" });
    const disarmed = await gatewayApi("/disconnect", { gatewaySessionId, windowId: id });
    expect(await disarmed.json()).toEqual({ closed: true });
    const closes = (await audits("gateway_session.close")).filter(
      (e) => (e.detail as { gatewaySessionId?: string }).gatewaySessionId === gatewaySessionId,
    );
    expect(closes[0]?.actorName).toBe(`maintenance window ${id} at gateway Hall 1`);
  });
});
