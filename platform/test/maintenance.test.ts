// SSH maintenance of a connect gateway, through the portal on a recording data plane: a platform
// admin opens a maintenance session while the operator at the gateway has pressed Connect, gets a
// one-time .ovpn shown once, reaches the gateway's tunnel address on tcp/22 only, and the session
// ends like any other — by the admin, or with the gateway's data channel.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { HeartbeatResponse } from "@meetpoint/common";
import { and, eq } from "drizzle-orm";
import { auditEntries } from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import { createCustomer, createGateway, createSite } from "../src/masterdata/index.ts";
import { dataChannelProfile, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { type Browser, firstSignIn } from "./support/portal.ts";

let p: TestPlatform;
let gateway: { id: string; secret: string };
let workstationId: string;
let customerAdmin: Browser;
let tech: Browser;
let connection = 0;

const api = async (path: string, body = "{}") =>
  p.app.request(`https://localhost/api/gateway/v1${path}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${gateway.id}.${gateway.secret}`,
      "content-type": "application/json",
    },
    body,
  });

function profileFromPage(html: string): string {
  const data = html.match(
    /href="data:application\/x-openvpn-profile;base64,([A-Za-z0-9+/=]+)"/,
  )?.[1];
  if (!data) throw new Error("no profile on the page");
  return Buffer.from(data, "base64").toString();
}

/** What the gateway's heartbeat answers about the maintenance sessions through its channel. */
async function maintenanceInHeartbeat(gatewaySessionId: string) {
  const response = await api(
    "/heartbeat",
    JSON.stringify({
      state: "online",
      gatewaySessionId,
      agentVersion: "0.1.0",
      openvpnVersion: null,
      localTime: p.clock.now().toISOString(),
      lastError: null,
    }),
  );
  expect(response.status).toBe(200);
  const answer = (await response.json()) as HeartbeatResponse;
  return { maintenance: answer.maintenanceSessions, remote: answer.remoteSessions };
}

/** The operator at the gateway presses Connect; its OpenVPN connects. Returns its tunnel address. */
async function operatorConnects(): Promise<string> {
  const { envelope } = (await (await api("/data-channel")).json()) as { envelope: string };
  const profile = await dataChannelProfile(p, gateway.id, envelope);
  const decision = await p.access.connections.decide(`0:${++connection}`, serialOf(profile));
  if (!decision.allow) throw new Error(decision.reason);
  const channel = await p.access.dataChannels.open(gateway.id);
  return channel?.tunnelAddress ?? "";
}

async function openMaintenance(reason = "ticket 4711, update failed") {
  await p.admin.get(`/gateways/${gateway.id}`);
  return p.admin.postShownOnce(`/gateways/${gateway.id}/maintenance`, { reason });
}

beforeAll(async () => {
  p = await testPlatform();
  const customer = await createCustomer(p.adminCtx, { name: "ACME" });
  const site = await createSite(p.adminCtx, customer.id, { name: "Plant" });
  const created = await createGateway(p.adminCtx, p.proxyPool, site.id, { name: "Hall 1" });
  gateway = { id: created.gateway.id, secret: created.secret };
  workstationId = (
    await createGateway(p.adminCtx, p.proxyPool, site.id, { name: "PC", kind: "workstation" })
  ).gateway.id;
  const a = await createUser(p.adminCtx, { username: "cadmin", displayName: "Customer Admin" });
  await grantRole(p.adminCtx, a.user.id, { role: "customer_admin", customerId: customer.id });
  customerAdmin = (await firstSignIn(p.app, p.database.db, p.clock, "cadmin", a.password)).browser;
  const t = await createUser(p.adminCtx, { username: "tech", displayName: "Tech Nician" });
  await grantRole(p.adminCtx, t.user.id, { role: "technician", customerId: customer.id });
  tech = (await firstSignIn(p.app, p.database.db, p.clock, "tech", t.password)).browser;
}, 60_000);
afterAll(() => p.dispose());

describe("SSH maintenance of a gateway", () => {
  test("while the gateway is offline there is nothing to open, and asking anyway is refused", async () => {
    expect(await p.admin.page(`/gateways/${gateway.id}`)).toContain(
      "Possible while the operator at the gateway has pressed Connect",
    );
    const refused = await p.admin.post(`/gateways/${gateway.id}/maintenance`, {
      reason: "ticket 1",
    });
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain("The gateway is offline");
  });

  test("only platform admins: a customer admin and a technician see no form and are refused", async () => {
    await operatorConnects();
    for (const who of [customerAdmin, tech]) {
      expect(await who.page(`/gateways/${gateway.id}`)).not.toContain(
        "Open SSH maintenance session",
      );
      expect((await who.post(`/gateways/${gateway.id}/maintenance`, { reason: "x" })).status).toBe(
        403,
      );
    }
  });

  test("a workstation has no SSH server for maintenance; a foreign id is not found", async () => {
    expect(await p.admin.page(`/gateways/${workstationId}`)).not.toContain(
      "Open SSH maintenance session",
    );
    const refused = await p.admin.post(`/gateways/${workstationId}/maintenance`, { reason: "x" });
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain("Only a connect gateway");
    expect(
      (
        await p.admin.post("/gateways/7f8a0c84-5a3b-4a8e-9d7e-1f2a3b4c5d6e/maintenance", {
          reason: "x",
        })
      ).status,
    ).toBe(404);
  });

  test("a reason is required", async () => {
    await p.admin.get(`/gateways/${gateway.id}`);
    const refused = await p.admin.post(`/gateways/${gateway.id}/maintenance`, { reason: "" });
    expect(refused.status).toBe(400);
  });

  test("the admin's one-time .ovpn reaches the gateway's tunnel address on tcp/22 and nothing else; the heartbeat tells the gateway who and why", async () => {
    const gatewayAddress = (await p.access.dataChannels.open(gateway.id))?.tunnelAddress;
    const html = await (await openMaintenance()).text();
    expect(html).toContain(`${gatewayAddress} tcp/22`);
    expect(html).toContain(`ip route get ${gatewayAddress}`);
    const decision = await p.access.connections.decide(
      `0:${++connection}`,
      serialOf(profileFromPage(html)),
    );
    expect(decision.allow).toBe(true);
    const grants = [...p.dataPlane.grants.values()];
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({ proxyAddress: gatewayAddress, protocol: "tcp", port: 22 });

    const [session] = await p.access.remoteSessions.list(p.adminCtx, {
      gatewayId: gateway.id,
      open: true,
    });
    expect(session).toMatchObject({ kind: "maintenance", machineId: null, state: "active" });
    // The gateway learns of it by its heartbeat: who, why, until when — and no machine session.
    const beat = await maintenanceInHeartbeat(session?.gatewaySessionId ?? "");
    expect(beat.maintenance.map((m) => [m.id, m.technician, m.reason])).toEqual([
      [session?.id ?? "", expect.any(String), "ticket 4711, update failed"],
    ]);
    expect(beat.maintenance[0]?.until).toBe(session?.endsAt.toISOString() ?? "");
    expect(beat.remote).toEqual([]);
    expect(await p.admin.page("/sessions")).toContain("Hall 1 (SSH maintenance)");

    const [audited] = await p.database.db
      .select()
      .from(auditEntries)
      .where(
        and(
          eq(auditEntries.action, "remote_session.request"),
          eq(auditEntries.targetId, gateway.id),
        ),
      );
    expect(audited?.detail).toMatchObject({
      kind: "maintenance",
      services: ["tcp/22"],
      target: gatewayAddress,
    });
  });

  test("the admin's Disconnect ends it, closes port 22 and the data channel (like a technician's end), and returns to the gateway's page", async () => {
    const [session] = await p.access.remoteSessions.list(p.adminCtx, {
      gatewayId: gateway.id,
      open: true,
    });
    await p.admin.get("/sessions");
    const ended = await p.admin.post(`/sessions/${session?.id}/disconnect`);
    expect(ended.status).toBe(303);
    expect(ended.headers.get("location")).toBe(`/gateways/${gateway.id}`);
    expect(p.dataPlane.grants.size).toBe(0);
    expect((await maintenanceInHeartbeat(session?.gatewaySessionId ?? "")).maintenance).toEqual([]);
    // One Connect at the gateway, one session: the next needs the operator again.
    expect((await p.access.dataChannels.open(gateway.id))?.state ?? "closed").toBe("closed");
  });

  test("the operator's Disconnect at the gateway ends an open maintenance session with it", async () => {
    await operatorConnects();
    const html = await (await openMaintenance("second look")).text();
    await p.access.connections.decide(`0:${++connection}`, serialOf(profileFromPage(html)));
    expect(p.dataPlane.grants.size).toBe(1);
    expect((await api("/disconnect")).status).toBe(200);
    const sessions = await p.access.remoteSessions.list(p.adminCtx, { gatewayId: gateway.id });
    const session = sessions.find((s) => s.reason === "second look");
    expect(session).toMatchObject({ kind: "maintenance", state: "ended", endReason: "operator" });
    expect(p.dataPlane.grants.size).toBe(0);
  });
});
