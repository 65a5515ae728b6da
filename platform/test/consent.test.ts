// Scoped consent through the portal, on a recording data plane with a manual clock: a site's
// consent policy; under customer approval a technician's Connect is a pending request that a
// customer approver allows or denies, that expires when nobody decides, whose clock starts at the
// approval and whose .ovpn comes only after it, once; one technician's end leaves the others'
// sessions and the data channel alone. Under operator Connect, today's behaviour stays.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { auditEntries, gatewaySessions, remoteSessions } from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import {
  createCustomer,
  createGateway,
  createMachine,
  createService,
  createSite,
} from "../src/masterdata/index.ts";
import { dataChannelProfile, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { type Browser, firstSignIn } from "./support/portal.ts";

let p: TestPlatform;
let plant: { siteId: string; gatewayId: string; secret: string; machineId: string };
let depot: { siteId: string; gatewayId: string; secret: string; machineId: string };
let foreignSiteId: string;
let web: string;
let vnc: string;
let ssh: string;
let tech1: Browser;
let tech2: Browser;
let custAdmin: Browser;
let operator: Browser;
let foreignAdmin: Browser;
let connection = 0;
/** User ids by username. */
const userIds: Record<string, string> = {};

function profileFromPage(html: string): string {
  const data = html.match(
    /href="data:application\/x-openvpn-profile;base64,([A-Za-z0-9+/=]+)"/,
  )?.[1];
  if (!data) throw new Error("no profile on the page");
  return Buffer.from(data, "base64").toString();
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

/** The remote sessions the gateway's heartbeat tells it to let through. */
async function gatewaySees(gateway: { gatewayId: string; secret: string }): Promise<string[]> {
  const [channel] = await p.database.db
    .select()
    .from(gatewaySessions)
    .where(eq(gatewaySessions.gatewayId, gateway.gatewayId));
  const response = await p.app.request("https://localhost/api/gateway/v1/heartbeat", {
    method: "POST",
    headers: {
      authorization: `Bearer ${gateway.gatewayId}.${gateway.secret}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({
      state: "online",
      gatewaySessionId: channel?.id ?? null,
      agentVersion: "0.1.0",
      openvpnVersion: "2.6.12",
      localTime: p.clock.now().toISOString(),
      lastError: null,
    }),
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { remoteSessions: { id: string }[] };
  return body.remoteSessions.map((s) => s.id);
}

async function channelState(gatewayId: string) {
  const rows = await p.database.db
    .select()
    .from(gatewaySessions)
    .where(eq(gatewaySessions.gatewayId, gatewayId));
  return rows.map((r) => r.state);
}

async function session(id: string) {
  const [row] = await p.database.db.select().from(remoteSessions).where(eq(remoteSessions.id, id));
  if (!row) throw new Error(`no session ${id}`);
  return row;
}

async function audited(action: string, remoteSessionId: string) {
  const rows = await p.database.db
    .select()
    .from(auditEntries)
    .where(eq(auditEntries.action, action));
  return rows.filter(
    (r) => (r.detail as { remoteSessionId?: string }).remoteSessionId === remoteSessionId,
  );
}

/** A technician asks for access at the plant; returns the request's id (from the redirect). */
async function ask(tech: Browser, form: Record<string, string> = {}): Promise<string> {
  await tech.get(`/machines/${plant.machineId}`);
  const response = await tech.post(`/machines/${plant.machineId}/connect`, {
    reason: "axis 3 fault",
    ...form,
  });
  const location = response.headers.get("location") ?? "";
  if (response.status !== 303 || !location.startsWith("/requests/"))
    throw new Error(`Connect answered ${response.status} → ${location}: ${await response.text()}`);
  return location.slice("/requests/".length);
}

/** The technician takes the approved request's one-time .ovpn and connects with it. */
async function download(tech: Browser, id: string): Promise<string> {
  await tech.get(`/requests/${id}`);
  return profileFromPage(await (await tech.postShownOnce(`/requests/${id}/profile`)).text());
}

async function decide(who: Browser, id: string, verb: "approve" | "deny") {
  await who.get("/sessions");
  return who.post(`/requests/${id}/${verb}`);
}

async function place(siteId: string, name: string) {
  const { gateway, secret } = await createGateway(p.adminCtx, p.proxyPool, siteId, { name });
  const machine = await createMachine(p.adminCtx, p.proxyPool, gateway.id, {
    name: `${name} press`,
    lanAddress: "192.168.0.10",
  });
  return { siteId, gatewayId: gateway.id, secret, machineId: machine.id };
}

async function signIn(username: string, grant: Parameters<typeof grantRole>[2]) {
  const u = await createUser(p.adminCtx, { username, displayName: username.toUpperCase() });
  await grantRole(p.adminCtx, u.user.id, grant);
  userIds[username] = u.user.id;
  return (await firstSignIn(p.app, p.database.db, p.clock, username, u.password)).browser;
}

beforeAll(async () => {
  p = await testPlatform();
  const customer = await createCustomer(p.adminCtx, { name: "ACME" });
  plant = await place((await createSite(p.adminCtx, customer.id, { name: "Plant" })).id, "Hall 1");
  depot = await place((await createSite(p.adminCtx, customer.id, { name: "Depot" })).id, "Depot");
  const services = [
    ["Web", 443, true],
    ["VNC", 5900, true],
    ["SSH", 22, false],
  ] as const;
  const ids: string[] = [];
  for (const [name, port, enabled] of services)
    ids.push(
      (await createService(p.adminCtx, plant.machineId, { name, protocol: "tcp", port, enabled }))
        .id,
    );
  [web = "", vnc = "", ssh = ""] = ids;
  await createService(p.adminCtx, depot.machineId, {
    name: "Web",
    protocol: "tcp",
    port: 443,
    enabled: true,
  });
  const foreign = await createCustomer(p.adminCtx, { name: "Other" });
  foreignSiteId = (await createSite(p.adminCtx, foreign.id, { name: "Elsewhere" })).id;

  tech1 = await signIn("tech1", { role: "technician", customerId: customer.id });
  tech2 = await signIn("tech2", { role: "technician", customerId: customer.id });
  custAdmin = await signIn("custadmin", { role: "customer_admin", customerId: customer.id });
  operator = await signIn("olga", {
    role: "operator",
    customerId: customer.id,
    siteId: plant.siteId,
  });
  foreignAdmin = await signIn("foreign", { role: "customer_admin", customerId: foreign.id });
  await arm(plant);
  await arm(depot);
}, 120_000);
afterAll(() => p.dispose());

describe("a site's consent policy", () => {
  test("operator Connect is the default; a customer admin sets customer approval, audited", async () => {
    expect(await custAdmin.page(`/sites/${plant.siteId}`)).toContain(
      "Operator Connect opens the gateway",
    );
    const saved = await custAdmin.post(`/sites/${plant.siteId}/consent`, {
      consentPolicy: "customer_approval",
      maxSessionMinutes: "60",
      requestExpiryMinutes: "10",
    });
    expect(saved.status).toBe(303);
    expect(await custAdmin.page(`/sites/${plant.siteId}`)).toContain(
      "A customer approver allows each request in the portal",
    );
    const [entry] = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, "site.consent_policy"));
    expect(entry?.detail).toMatchObject({
      from: { consentPolicy: "operator_connect", maxSessionMinutes: 120 },
      to: { consentPolicy: "customer_approval", maxSessionMinutes: 60, requestExpiryMinutes: 10 },
    });
  });

  test("all four policies are offered; an unknown one is refused by name; technicians and other customers cannot set it", async () => {
    const page = await custAdmin.page(`/sites/${plant.siteId}`);
    for (const policy of [
      "operator_connect",
      "operator_approval",
      "customer_approval",
      "two_party",
    ])
      expect(page).toContain(`value="${policy}"`);
    for (const policy of ["gateway_approval", "both"]) {
      const refused = await custAdmin.post(`/sites/${plant.siteId}/consent`, {
        consentPolicy: policy,
        maxSessionMinutes: "60",
        requestExpiryMinutes: "10",
      });
      expect(refused.status).toBe(400);
      expect(await refused.text()).toContain("consentPolicy");
    }
    const tooLong = await custAdmin.post(`/sites/${plant.siteId}/consent`, {
      consentPolicy: "customer_approval",
      maxSessionMinutes: "5000",
      requestExpiryMinutes: "10",
    });
    expect(tooLong.status).toBe(400);
    expect(await tooLong.text()).toContain("maxSessionMinutes");
    await tech1.get(`/sites/${plant.siteId}`);
    const byTech = await tech1.post(`/sites/${plant.siteId}/consent`, {
      consentPolicy: "operator_connect",
      maxSessionMinutes: "60",
      requestExpiryMinutes: "10",
    });
    expect(byTech.status).toBe(403);
    await foreignAdmin.get("/sessions");
    const foreign = await foreignAdmin.post(`/sites/${plant.siteId}/consent`, {
      consentPolicy: "operator_connect",
      maxSessionMinutes: "60",
      requestExpiryMinutes: "10",
    });
    expect(foreign.status).toBe(404);
    expect(foreignSiteId).not.toBe(plant.siteId);
  });

  test("a stale consent or window-settings form is refused (409, who changed it and when), reverting nothing", async () => {
    const versionOf = (html: string, action: string) =>
      html.match(
        new RegExp(`action="${action}"[\\s\\S]*?name="version" value="([0-9a-f]{16})"`),
      )?.[1] ?? "";
    const consent = `/sites/${plant.siteId}/consent`;
    const windows = `/sites/${plant.siteId}/windows`;
    const opened = await custAdmin.page(`/sites/${plant.siteId}`);
    const seenConsent = versionOf(opened, consent);
    const seenWindows = versionOf(opened, windows);
    expect(seenConsent).not.toBe("");
    expect(seenWindows).not.toBe("");
    // Another admin changes both after the page was opened…
    await p.admin.get(`/sites/${plant.siteId}`);
    const policy = {
      consentPolicy: "two_party",
      maxSessionMinutes: "60",
      requestExpiryMinutes: "10",
    };
    expect((await p.admin.post(consent, { ...policy, version: seenConsent })).status).toBe(303);
    const overlap = { windowCreators: "operator_and_customer", windowsMayOverlap: "on" };
    expect((await p.admin.post(windows, { ...overlap, version: seenWindows })).status).toBe(303);
    // …and the page opened before saves its own: refused, naming who changed it.
    const stale = await custAdmin.post(consent, {
      consentPolicy: "customer_approval",
      maxSessionMinutes: "60",
      requestExpiryMinutes: "10",
      version: seenConsent,
    });
    expect(stale.status).toBe(409);
    expect(await stale.text()).toMatch(/Changed by admin at .* since you opened this page/);
    const staleWindows = await custAdmin.post(windows, {
      windowCreators: "operator",
      version: seenWindows,
    });
    expect(staleWindows.status).toBe(409);
    expect(await staleWindows.text()).toContain("Changed by admin");
    const now = await custAdmin.page(`/sites/${plant.siteId}`);
    expect(now).toContain("Both: the operator at the machine and a customer approver");
    expect(now).toContain("may overlap");
    // Saved again from the fresh page: accepted (back to what the later tests expect).
    expect(
      (
        await custAdmin.post(consent, {
          consentPolicy: "customer_approval",
          maxSessionMinutes: "60",
          requestExpiryMinutes: "10",
          version: versionOf(now, consent),
        })
      ).status,
    ).toBe(303);
    expect(
      (
        await custAdmin.post(windows, {
          windowCreators: "operator",
          version: versionOf(now, windows),
        })
      ).status,
    ).toBe(303);
  });

  test("a site maximum above the platform's limit: the page states the platform's limit as the effective maximum", async () => {
    const raised = await custAdmin.post(`/sites/${plant.siteId}/consent`, {
      consentPolicy: "customer_approval",
      maxSessionMinutes: "120",
      requestExpiryMinutes: "10",
    });
    expect(raised.status).toBe(303);
    // The test platform's MEETPOINT_REMOTE_SESSION_MINUTES is 60.
    expect(await custAdmin.page(`/sites/${plant.siteId}`)).toContain(
      "Sessions last at most 60 minutes (the platform&#39;s limit; the site allows 120)",
    );
    await custAdmin.post(`/sites/${plant.siteId}/consent`, {
      consentPolicy: "customer_approval",
      maxSessionMinutes: "60",
      requestExpiryMinutes: "10",
    });
    expect(await custAdmin.page(`/sites/${plant.siteId}`)).toContain(
      "Sessions last at most 60 minutes; a request",
    );
  });
});

describe("requests under customer approval", () => {
  let requestId: string;

  test("Connect becomes a pending request: no config, no grant, nothing at the gateway; the page polls its state", async () => {
    const page = await tech1.page(`/machines/${plant.machineId}`);
    expect(page).toContain("Request access");
    expect(page).toContain(`name="service.${web}"`);
    expect(page).not.toContain(`name="service.${ssh}"`);
    requestId = await ask(tech1, {
      ticket: "T-4711",
      servicesChosen: "1",
      [`service.${web}`]: "on",
      minutes: "30",
    });
    const row = await session(requestId);
    expect(row).toMatchObject({ state: "pending", ticket: "T-4711", durationSeconds: 1800 });
    expect(row.services.map((s) => s.port)).toEqual([443]);
    expect(p.dataPlane.grants.size).toBe(0);
    expect(await gatewaySees(plant)).toEqual([]);
    const status = await tech1.page(`/requests/${requestId}`);
    expect(status).toContain("waiting for approval");
    expect(status).toContain('hx-trigger="every 3s"');
    const early = await tech1.post(`/requests/${requestId}/profile`);
    expect(early.status).toBe(409);
    expect(await early.text()).toContain("still waiting for its approval");
  });

  test("approvers see it with Allow and Deny; the technician, other technicians, other customers and platform admins cannot decide", async () => {
    for (const approver of [operator, custAdmin]) {
      const page = await approver.page("/sessions");
      expect(page).toContain(`/requests/${requestId}/approve`);
      expect(page).toContain("T-4711");
    }
    expect(await tech2.page("/sessions")).not.toContain(`/requests/${requestId}/approve`);
    expect((await decide(tech1, requestId, "approve")).status).toBe(403);
    expect((await decide(tech2, requestId, "approve")).status).toBe(403);
    expect((await decide(p.admin, requestId, "approve")).status).toBe(403);
    expect((await decide(foreignAdmin, requestId, "approve")).status).toBe(404);
    expect((await decide(foreignAdmin, requestId, "deny")).status).toBe(404);
    expect((await session(requestId)).state).toBe("pending");
  });

  test("another technician of the customer cannot open the request's page (404); an approver reads it as the technician's", async () => {
    expect((await tech2.get(`/requests/${requestId}`)).status).toBe(404);
    expect((await tech2.get(`/requests/${requestId}/status`)).status).toBe(404);
    expect(await tech1.page(`/requests/${requestId}`)).toContain("Your request to");
    const seen = await custAdmin.page(`/requests/${requestId}`);
    expect(seen).toContain("TECH1&#39;s request to");
    expect(seen).not.toContain("Your request");
    expect(seen).not.toContain("Get my one-time connection file");
  });

  test("the approval starts the clock; approving twice changes nothing; the .ovpn comes once, for exactly the approved service", async () => {
    p.clock.advance(5 * 60_000);
    const approvedAt = p.clock.now();
    const approved = await decide(operator, requestId, "approve");
    expect(approved.headers.get("location")).toBe("/sessions?decision=approved");
    const row = await session(requestId);
    expect(row.state).toBe("requested");
    expect(row.approvedAt).toEqual(approvedAt);
    expect(row.endsAt).toEqual(new Date(approvedAt.getTime() + 30 * 60_000));
    const [entry] = await audited("remote_session.approve", requestId);
    expect(entry?.actorName).toBe("olga");
    expect(entry?.detail).toMatchObject({ where: "portal", services: ["tcp/443"], minutes: 30 });

    const again = await decide(custAdmin, requestId, "approve");
    expect(again.headers.get("location")).toBe("/sessions?decision=already_approved");
    expect(await custAdmin.page("/sessions?decision=already_approved")).toContain(
      "approved already: nothing changed",
    );
    expect(await audited("remote_session.approve", requestId)).toHaveLength(1);
    expect((await session(requestId)).endsAt).toEqual(row.endsAt);
    expect(await gatewaySees(plant)).toEqual([requestId]);

    // The technician's page, as its poll fetches it: approved, by whom, with the download.
    const fragment = await tech1.page(`/requests/${requestId}/status`);
    expect(fragment).toContain("approved");
    expect(fragment).toContain("OLGA");
    expect(fragment).not.toContain("hx-trigger");
    const profile = await download(tech1, requestId);
    expect((await tech1.post(`/requests/${requestId}/profile`)).status).toBe(409);
    expect((await p.access.connections.decide(`0:${++connection}`, serialOf(profile))).allow).toBe(
      true,
    );
    expect([...p.dataPlane.grants.values()].map((g) => g.port)).toEqual([443]);
  });

  test("a denial is audited by whom and where; the technician sees it; it cannot be approved after", async () => {
    const id = await ask(tech2);
    const denied = await decide(custAdmin, id, "deny");
    expect(denied.headers.get("location")).toBe("/sessions?decision=denied");
    expect(await session(id)).toMatchObject({ state: "ended", endReason: "denied" });
    const [entry] = await audited("remote_session.deny", id);
    expect(entry?.actorName).toBe("custadmin");
    expect(entry?.detail).toMatchObject({ where: "portal", reason: "denied" });
    expect(await tech2.page(`/requests/${id}/status`)).toContain("The request was denied");
    const late = await decide(operator, id, "approve");
    expect(late.status).toBe(409);
    expect(await late.text()).toContain("denied by CUSTADMIN");
    expect((await decide(operator, id, "deny")).headers.get("location")).toBe(
      "/sessions?decision=already_denied",
    );
    expect(await audited("remote_session.deny", id)).toHaveLength(1);
  });

  test("a request nobody decides expires with the tick; deciding it then is 409 with the reason", async () => {
    const id = await ask(tech2);
    p.clock.advance(10 * 60_000 - 1000);
    await p.access.ends.endDue();
    expect((await session(id)).state).toBe("pending");
    p.clock.advance(1000);
    await p.access.ends.endDue();
    expect(await session(id)).toMatchObject({ state: "ended", endReason: "request_expired" });
    expect(await audited("remote_session.expire", id)).toHaveLength(1);
    for (const verb of ["approve", "deny"] as const) {
      const refused = await decide(operator, id, verb);
      expect(refused.status).toBe(409);
      expect(await refused.text()).toContain("expired");
    }
    expect(await tech2.page(`/requests/${id}/status`)).toContain(
      "Nobody decided the request in time",
    );
  });

  test("a request past its deadline is expired, not approved or denied, even before the tick runs", async () => {
    const asked = { approve: await ask(tech2), deny: await ask(tech2) };
    p.clock.advance(11 * 60_000);
    for (const verb of ["approve", "deny"] as const) {
      const id = asked[verb];
      const refused = await decide(operator, id, verb);
      expect(refused.status).toBe(409);
      expect(await refused.text()).toContain("expired");
      expect(await session(id)).toMatchObject({ state: "ended", endReason: "request_expired" });
      // Regression: a late Deny recorded the expiry as the denier's, with "where: portal".
      const [expired] = await audited("remote_session.expire", id);
      expect(expired?.actorName).toBe("system");
      expect(await audited("remote_session.deny", id)).toEqual([]);
    }
  });

  test("a pending request is decided, never terminated: an approver's or admin's Terminate is 409; a bad id is 404", async () => {
    const id = await ask(tech2);
    for (const who of [custAdmin, p.admin]) {
      await who.get("/sessions");
      const refused = await who.post(`/sessions/${id}/disconnect`);
      expect(refused.status).toBe(409);
      expect(await refused.text()).toContain("waits for a decision");
    }
    expect((await session(id)).state).toBe("pending");
    expect((await tech2.get("/requests/not-a-uuid")).status).toBe(404);
    expect((await tech2.get("/requests/not-a-uuid/status")).status).toBe(404);
    await tech2.get("/sessions");
    expect((await tech2.post(`/sessions/${id}/disconnect`)).status).toBe(303);
  });

  test("the technician can withdraw a pending request; the data channel stays", async () => {
    const id = await ask(tech2);
    expect(await tech2.page("/sessions")).toContain("Withdraw");
    expect((await tech2.post(`/sessions/${id}/disconnect`)).status).toBe(303);
    expect(await session(id)).toMatchObject({ state: "ended", endReason: "technician" });
    expect(await channelState(plant.gatewayId)).toEqual(["online"]);
    expect((await decide(operator, id, "approve")).status).toBe(409);
  });

  test("bad requests: above the site's maximum, a service not enabled, none chosen → 400 naming the field", async () => {
    for (const [form, field, words] of [
      [{ minutes: "61" }, "minutes", "at most 60 minutes"],
      [{ servicesChosen: "1", [`service.${ssh}`]: "on" }, "services", "not an enabled service"],
      [{ servicesChosen: "1" }, "services", "choose at least one service"],
      [{ minutes: "0" }, "minutes", "at least 1 minute"],
    ] as const) {
      await tech2.get(`/machines/${plant.machineId}`);
      const refused = await tech2.post(`/machines/${plant.machineId}/connect`, {
        reason: "checks",
        ...form,
      });
      expect(refused.status).toBe(400);
      const text = await refused.text();
      expect(text).toContain(field);
      expect(text).toContain(words);
    }
    expect(vnc).toBeTruthy();
  });

  test("several technicians: one's Disconnect ends that session only; the last one's end closes the data channel (operator re-arms)", async () => {
    const first = requestId;
    expect((await session(first)).state).toBe("active");
    const second = await ask(tech2);
    await decide(custAdmin, second, "approve");
    const profile = await download(tech2, second);
    expect((await p.access.connections.decide(`0:${++connection}`, serialOf(profile))).allow).toBe(
      true,
    );
    expect((await session(second)).state).toBe("active");
    await tech1.get("/sessions");
    expect((await tech1.post(`/sessions/${first}/disconnect`)).status).toBe(303);
    expect(await session(first)).toMatchObject({ state: "ended", endReason: "technician" });
    expect((await session(second)).state).toBe("active");
    expect(await channelState(plant.gatewayId)).toEqual(["online"]);
    // The approver ends the other at any time; it was the channel's last session, so the
    // reference design's rule applies: the data channel closes, and only the operator re-arms.
    await custAdmin.get("/sessions");
    expect((await custAdmin.post(`/sessions/${second}/disconnect`)).status).toBe(303);
    expect(await session(second)).toMatchObject({ state: "ended", endReason: "admin" });
    expect(await channelState(plant.gatewayId)).toEqual(["closed"]);
    expect(p.dataPlane.grants.size).toBe(0);
    // Regression: a withdrawn request that nobody approved never closes the plant's channel,
    // even when nothing else is open on it.
    await arm(plant);
    const lone = await ask(tech1);
    await tech1.get("/sessions");
    expect((await tech1.post(`/sessions/${lone}/disconnect`)).status).toBe(303);
    expect(await session(lone)).toMatchObject({ state: "ended", endReason: "technician" });
    expect((await channelState(plant.gatewayId)).filter((s) => s !== "closed")).toEqual(["online"]);
    // The transparency report of the approved session names the approval: who, when, where.
    const report = (await (await custAdmin.get(`/sessions/${second}/report.json`)).json()) as {
      report: { consent: { policy: string; approvals: { by: string; where: string }[] } };
    };
    expect(report.report.consent.policy).toBe("customer-approval");
    expect(report.report.consent.approvals).toEqual([expect.objectContaining({ where: "portal" })]);
    // The page says who allowed it, when and where.
    expect(await custAdmin.page(`/sessions/${second}/report`)).toContain("data-report-approvals");
  });
});

describe("operator Connect (policy 1) keeps today's behaviour", () => {
  test("Connect gives the .ovpn at once; a technician's Disconnect closes the data channel and ends the others' sessions", async () => {
    const connect = async (tech: Browser) => {
      await tech.get(`/machines/${depot.machineId}`);
      const html = await (
        await tech.postShownOnce(`/machines/${depot.machineId}/connect`, { reason: "depot job" })
      ).text();
      expect(
        (await p.access.connections.decide(`0:${++connection}`, serialOf(profileFromPage(html))))
          .allow,
      ).toBe(true);
    };
    await connect(tech1);
    await connect(tech2);
    const open = await p.database.db
      .select()
      .from(remoteSessions)
      .where(
        and(eq(remoteSessions.machineId, depot.machineId), eq(remoteSessions.state, "active")),
      );
    expect(open).toHaveLength(2);
    expect(open.every((s) => s.consentPolicy === "operator_connect" && s.approvedAt === null)).toBe(
      true,
    );
    const own = open.find((s) => s.technicianId === userIds.tech1);
    await tech1.get("/sessions");
    expect((await tech1.post(`/sessions/${own?.id}/disconnect`)).status).toBe(303);
    const after = await p.database.db
      .select()
      .from(remoteSessions)
      .where(eq(remoteSessions.machineId, depot.machineId));
    expect(after.map((s) => s.state)).toEqual(["ended", "ended"]);
    expect(after.map((s) => s.endReason).sort()).toEqual(["channel_closed", "technician"]);
    expect(await channelState(depot.gatewayId)).toEqual(["closed"]);
    // The other technician reads why their session ended: who closed the channel, and who re-arms.
    const other = after.find((s) => s.technicianId === userIds.tech2);
    expect(other?.endedBy).toBe(userIds.tech1 ?? "");
    const page = await tech2.page("/sessions");
    expect(page).toContain(
      "ended because TECH1 disconnected and the gateway&#39;s data channel closed; the operator at the machine must connect again",
    );
    const file = (await (await custAdmin.get(`/sessions/${other?.id}/report.json`)).json()) as {
      report: { session: { endReason: string; endReasonText: string; endedBy: string } };
    };
    expect(file.report.session).toMatchObject({ endReason: "channel_closed", endedBy: "TECH1" });
  });
});
