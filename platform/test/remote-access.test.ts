// Remote access through the portal and the gateway API, on a recording data plane: the operator
// arms the gateway, a technician connects and disconnects, others are kept out.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseConfig } from "@meetpoint/common";
import { eq } from "drizzle-orm";
import { auditEntries, remoteSessions } from "../src/db/index.ts";
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
let gateway: { id: string; secret: string };
let otherGateway: { id: string; secret: string };
let machineId: string;
let otherMachineId: string;
let tech: Browser;
let outsider: Browser;

const api = async (path: string, auth: string | null, body = "{}") =>
  p.app.request(`https://localhost/api/gateway/v1${path}`, {
    method: "POST",
    headers: { ...(auth ? { authorization: auth } : {}), "content-type": "application/json" },
    body,
  });

async function profileFromPage(html: string): Promise<string> {
  const data = html.match(
    /href="data:application\/x-openvpn-profile;base64,([A-Za-z0-9+/=]+)"/,
  )?.[1];
  if (!data) throw new Error("no profile on the page");
  return Buffer.from(data, "base64").toString();
}

beforeAll(async () => {
  p = await testPlatform();
  const customer = await createCustomer(p.adminCtx, { name: "ACME" });
  const site = await createSite(p.adminCtx, customer.id, { name: "Plant" });
  const created = await createGateway(p.adminCtx, p.proxyPool, site.id, { name: "Hall 1" });
  gateway = { id: created.gateway.id, secret: created.secret };
  const machine = await createMachine(p.adminCtx, p.proxyPool, gateway.id, {
    name: "Press",
    lanAddress: "192.168.0.10",
  });
  machineId = machine.id;
  await createService(p.adminCtx, machine.id, {
    name: "Web",
    protocol: "tcp",
    port: 443,
    enabled: true,
  });
  const other = await createCustomer(p.adminCtx, { name: "Other" });
  const otherSite = await createSite(p.adminCtx, other.id, { name: "Elsewhere" });
  const otherCreated = await createGateway(p.adminCtx, p.proxyPool, otherSite.id, { name: "G" });
  otherGateway = { id: otherCreated.gateway.id, secret: otherCreated.secret };
  otherMachineId = (
    await createMachine(p.adminCtx, p.proxyPool, otherGateway.id, {
      name: "Other press",
      lanAddress: "192.168.0.10",
    })
  ).id;

  const t = await createUser(p.adminCtx, { username: "tech", displayName: "Tech Nician" });
  await grantRole(p.adminCtx, t.user.id, { role: "technician", customerId: customer.id });
  tech = (await firstSignIn(p.app, p.database.db, p.clock, "tech", t.password)).browser;
  const o = await createUser(p.adminCtx, { username: "outsider", displayName: "Out Sider" });
  await grantRole(p.adminCtx, o.user.id, { role: "technician", customerId: other.id });
  outsider = (await firstSignIn(p.app, p.database.db, p.clock, "outsider", o.password)).browser;
}, 60_000);
afterAll(() => p.dispose());

describe("gateway API", () => {
  test("refuses requests without the gateway's own secret, and audits them together", async () => {
    expect((await api("/data-channel", null)).status).toBe(401);
    expect((await api("/data-channel", `Bearer ${gateway.id}.wrong`)).status).toBe(401);
    expect((await api("/data-channel", `Bearer ${gateway.id}.${otherGateway.secret}`)).status).toBe(
      401,
    );
    expect((await api("/data-channel", `Bearer not-a-uuid.${gateway.secret}`)).status).toBe(401);
    // One entry for the source's interval, with the count.
    expect(await p.authFailures.flush({ all: true })).toBe(1);
    const rows = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, "gateway_api.auth"));
    expect(rows).toHaveLength(1);
    expect(rows[0]?.detail).toMatchObject({ failures: 4, throttled: 0, gatewayIds: [gateway.id] });
  });

  test("an oversized request is refused with 413", async () => {
    expect(
      (await api("/data-channel", `Bearer ${gateway.id}.${gateway.secret}`, "x".repeat(20_000)))
        .status,
    ).toBe(413);
  });

  test("the operator's Connect: a data-channel envelope signed for this gateway", async () => {
    const response = await api("/data-channel", `Bearer ${gateway.id}.${gateway.secret}`);
    expect(response.status).toBe(200);
    const { envelope } = (await response.json()) as { envelope: string };
    const profile = await dataChannelProfile(p, gateway.id, envelope);
    // The gateway's OpenVPN connects with it (here: the platform's decision, as the management socket asks).
    expect((await p.access.connections.decide("0:1", serialOf(profile))).allow).toBe(true);
  });
});

describe("portal remote access", () => {
  let sessionId: string;

  test("the machine file shows the gateway online and offers Connect to its technicians", async () => {
    const page = await tech.page(`/machines/${machineId}`);
    expect(page).toContain('data-reach="online"');
    expect(page).toContain("online — the operator allows access");
    expect(page).toContain(`action="/machines/${machineId}/connect"`);
  });

  test("Connect needs a reason, then offers the one-time .ovpn once, with a countdown", async () => {
    const noReason = await tech.post(`/machines/${machineId}/connect`, { reason: "" });
    expect(noReason.status).toBe(400);
    const response = await tech.postShownOnce(`/machines/${machineId}/connect`, {
      reason: "ticket 4711",
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const html = await response.text();
    expect(html).toContain("data-countdown=");
    // A PC whose other VPN claims 100.64.0.0/10 connects but reaches nothing: the page says what
    // the connection needs and how to see a clash.
    expect(html).toContain("ip route get 100.64.0.1");
    const profile = await profileFromPage(html);
    expect(
      parseConfig(profile)
        .directives.filter((d) => d.name === "route")
        .map((d) => d.args[0]),
    ).toEqual(["100.64.0.1"]);
    const [row] = await p.database.db.select().from(remoteSessions);
    sessionId = row?.id ?? "";
    expect(row).toMatchObject({ state: "requested", reason: "ticket 4711" });
    expect((await p.access.connections.decide("0:2", serialOf(profile))).allow).toBe(true);
    expect(await tech.page("/sessions")).toContain("connected");
  });

  test("another customer's technician: 404 for the machine and the session", async () => {
    expect(
      (await outsider.post(`/machines/${machineId}/connect`, { reason: "curious" })).status,
    ).toBe(404);
    expect((await outsider.post(`/sessions/${sessionId}/disconnect`)).status).toBe(404);
    expect(await outsider.page("/sessions")).not.toContain("ticket 4711");
    expect(
      (await tech.post(`/machines/${otherMachineId}/connect`, { reason: "curious" })).status,
    ).toBe(404);
  });

  test("Disconnect ends the session and the gateway's channel; Connect waits for the operator again", async () => {
    expect((await tech.post(`/sessions/${sessionId}/disconnect`)).status).toBe(303);
    const [row] = await p.database.db
      .select()
      .from(remoteSessions)
      .where(eq(remoteSessions.id, sessionId));
    expect(row).toMatchObject({ state: "ended", endReason: "technician" });
    expect(p.dataPlane.grants.size).toBe(0);
    // The gateway reports what it now is, as its agent does after the platform's close.
    const beat = await api(
      "/heartbeat",
      `Bearer ${gateway.id}.${gateway.secret}`,
      JSON.stringify({
        state: "idle",
        gatewaySessionId: null,
        agentVersion: "0.1.0",
        openvpnVersion: "2.6.12",
        localTime: p.clock.now().toISOString(),
        lastError: "remote session ended by technician",
      }),
    );
    expect(beat.status).toBe(200);
    const page = await tech.page(`/machines/${machineId}`);
    expect(page).toContain('data-reach="idle"');
    expect(page).toContain("Remote access is off: remote session ended by technician.");
    expect(page).toContain("The operator at the machine must press Connect");
    expect(page).not.toContain(`action="/machines/${machineId}/connect"`);
    const refused = await tech.post(`/machines/${machineId}/connect`, { reason: "again" });
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain("operator at the machine has to press Connect");
    // The refusal is in the audit log, as a denial.
    const denials = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, "remote_session.request"));
    expect(denials.filter((e) => e.result === "denied").at(-1)?.detail).toMatchObject({
      code: "ERR_GATEWAY_OFFLINE",
    });
  });

  async function armAndConnect(connection: number): Promise<string> {
    const response = await api("/data-channel", `Bearer ${gateway.id}.${gateway.secret}`);
    const { envelope } = (await response.json()) as { envelope: string };
    const profile = await dataChannelProfile(p, gateway.id, envelope);
    await p.access.connections.decide(`0:${connection}`, serialOf(profile));
    const html = await (
      await tech.postShownOnce(`/machines/${machineId}/connect`, { reason: `job ${connection}` })
    ).text();
    await p.access.connections.decide(`0:${connection + 1}`, serialOf(await profileFromPage(html)));
    const [open] = await p.access.remoteSessions.list(p.adminCtx, { open: true });
    if (!open) throw new Error("no open session");
    return open.id;
  }

  test("the status page says whether the data plane runs, and why not", async () => {
    const page = await p.admin.page("/status");
    expect(page).toContain("Data plane on");
    expect(page).toContain("meetpoint-vpn0");
    expect((await tech.get("/status")).status).toBe(403);
  });

  test("regression: the status page shows a server restarting, refused handshakes and an unusable CRL", async () => {
    p.dataPlane.healthState = {
      servers: [
        {
          index: 0,
          state: "restarting",
          attempt: 3,
          lastError: "Cannot open TUN/TAP dev /dev/net/tun",
          since: new Date("2026-11-30T10:00:00Z"),
        },
      ],
      refusedHandshakes: {
        total: 3,
        byCause: { "certificate expired": 2, "unknown CA": 1 },
        last: {
          at: new Date("2026-11-30T10:05:00Z"),
          line: "VERIFY ERROR: depth=0, error=certificate has expired",
        },
      },
      revocationList: {
        ok: false,
        problem: "a CRL in /data/pki/crl.pem is stale",
        since: new Date("2026-11-30T09:00:00Z"),
      },
    };
    try {
      const page = await p.admin.page("/status");
      expect(page).toContain("restarting");
      expect(page).toContain("attempt 3");
      expect(page).toContain("last error: Cannot open TUN/TAP dev /dev/net/tun");
      expect(page).toContain(
        "3 since the platform started (certificate expired: 2, unknown CA: 1)",
      );
      expect(page).toContain("Revocation list unusable since");
      expect(page).toContain("a CRL in /data/pki/crl.pem is stale");
    } finally {
      p.dataPlane.healthState = null;
    }
  });

  test("an admin terminates any session in scope", async () => {
    const id = await armAndConnect(10);
    await p.admin.get("/sessions");
    expect((await p.admin.post(`/sessions/${id}/disconnect`)).status).toBe(303);
    const [ended] = await p.database.db
      .select()
      .from(remoteSessions)
      .where(eq(remoteSessions.id, id));
    expect(ended).toMatchObject({ endReason: "admin" });
  });

  test("the operator's Disconnect through the gateway API ends the session", async () => {
    const id = await armAndConnect(20);
    const closed = await api("/disconnect", `Bearer ${gateway.id}.${gateway.secret}`);
    expect(await closed.json()).toEqual({ closed: true });
    const [ended] = await p.database.db
      .select()
      .from(remoteSessions)
      .where(eq(remoteSessions.id, id));
    expect(ended).toMatchObject({ endReason: "operator" });
    expect(p.dataPlane.grants.size).toBe(0);
  });
});
