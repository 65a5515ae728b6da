// Workstations and the plant's operators, through the portal on a recording data plane: a plant
// PC goes online with a one-time .ovpn the person at the plant downloads on it; technicians reach
// its enabled services at its proxy address (translated to its tunnel address); it goes offline
// from the portal or by a technician's end, after which only the plant brings it back. Operators
// see and end sessions on their machines — narrowed to a site where their grant says so.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseConfig } from "@meetpoint/common";
import { createUser, grantRole } from "../src/identity/index.ts";
import {
  createCustomer,
  createGateway,
  createService,
  createSite,
  listMachines,
} from "../src/masterdata/index.ts";
import { serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { type Browser, firstSignIn } from "./support/portal.ts";

let p: TestPlatform;
let workstationId: string;
let workstationMachineId: string;
let otherSiteWorkstationId: string;
let foreignWorkstationId: string;
let siteId: string;
let operator: Browser;
let tech: Browser;
let connection = 0;

function profileFromPage(html: string): string {
  const data = html.match(
    /href="data:application\/x-openvpn-profile;base64,([A-Za-z0-9+/=]+)"/,
  )?.[1];
  if (!data) throw new Error("no profile on the page");
  return Buffer.from(data, "base64").toString();
}

/** The person at the plant presses Go online; the .ovpn from its one showing. */
async function goOnline(gatewayId = workstationId): Promise<string> {
  await operator.get(`/gateways/${gatewayId}`);
  return profileFromPage(
    await (await operator.postShownOnce(`/workstations/${gatewayId}/online`)).text(),
  );
}

beforeAll(async () => {
  p = await testPlatform();
  const customer = await createCustomer(p.adminCtx, { name: "ACME" });
  const plant = await createSite(p.adminCtx, customer.id, { name: "Plant" });
  const depot = await createSite(p.adminCtx, customer.id, { name: "Depot" });
  siteId = plant.id;
  const created = await createGateway(p.adminCtx, p.proxyPool, plant.id, {
    name: "Control PC 1",
    kind: "workstation",
  });
  workstationId = created.gateway.id;
  const { machines } = await listMachines(p.adminCtx, { gatewayId: workstationId });
  workstationMachineId = machines[0]?.id ?? "";
  for (const [name, port, enabled] of [
    ["VNC", 5900, true],
    ["RDP", 3389, false],
  ] as const)
    await createService(p.adminCtx, workstationMachineId, { name, protocol: "tcp", port, enabled });
  otherSiteWorkstationId = (
    await createGateway(p.adminCtx, p.proxyPool, depot.id, {
      name: "Depot PC",
      kind: "workstation",
    })
  ).gateway.id;
  const foreign = await createCustomer(p.adminCtx, { name: "Other" });
  const foreignSite = await createSite(p.adminCtx, foreign.id, { name: "Elsewhere" });
  foreignWorkstationId = (
    await createGateway(p.adminCtx, p.proxyPool, foreignSite.id, {
      name: "PC",
      kind: "workstation",
    })
  ).gateway.id;

  const o = await createUser(p.adminCtx, { username: "olga", displayName: "Olga Operator" });
  await grantRole(p.adminCtx, o.user.id, {
    role: "operator",
    customerId: customer.id,
    siteId: plant.id,
  });
  operator = (await firstSignIn(p.app, p.database.db, p.clock, "olga", o.password)).browser;
  const t = await createUser(p.adminCtx, { username: "tech", displayName: "Tech Nician" });
  await grantRole(p.adminCtx, t.user.id, { role: "technician", customerId: customer.id });
  tech = (await firstSignIn(p.app, p.database.db, p.clock, "tech", t.password)).browser;
}, 60_000);
afterAll(() => p.dispose());

describe("workstations", () => {
  test("a workstation is its own single machine, at the first address of its block; no machine can be added", async () => {
    const { machines } = await listMachines(p.adminCtx, { gatewayId: workstationId });
    expect(machines).toHaveLength(1);
    expect(machines[0]).toMatchObject({ name: "Control PC 1", lanAddress: null });
    await p.admin.get(`/gateways/${workstationId}`);
    const refused = await p.admin.post(`/gateways/${workstationId}/machines`, {
      name: "Another",
      lanAddress: "192.168.0.10",
    });
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain("its own single machine");
    // It has no agent to enroll: offline until the plant brings it online, never "not enrolled".
    const lists = (await p.admin.page("/gateways")) + (await p.admin.page("/machines"));
    expect(lists).not.toContain("not enrolled");
    expect(lists).toContain("offline");
    expect(await p.admin.page(`/machines/${workstationMachineId}`)).toContain("presses Go online");
  });

  test("Go online: a one-time .ovpn shown once; its connection gets a tunnel address only, and its proxy address is translated to it", async () => {
    const profile = await goOnline();
    expect(parseConfig(profile).directives.filter((d) => d.name === "route")).toHaveLength(0);
    const decision = await p.access.connections.decide(`0:${++connection}`, serialOf(profile));
    expect(decision).toEqual({
      allow: true,
      config: [expect.stringMatching(/^ifconfig-push 100\.127\.0\.\d+ 255\.255\.240\.0$/)],
    });
    const { machines } = await listMachines(p.adminCtx, { gatewayId: workstationId });
    const tunnel = decision.allow ? decision.config[0]?.split(" ")[1] : "";
    expect([...p.dataPlane.workstations]).toEqual([
      [machines[0]?.proxyAddress ?? "", tunnel ?? ""],
    ]);
    expect(await operator.page(`/gateways/${workstationId}`)).toContain("online");
    // Regression: the operator narrowed to the site saw no state in the lists.
    expect(await operator.page("/machines")).toContain('data-reach="online"');
    expect(await operator.page("/gateways")).toContain('data-reach="online"');
    // Sharing the file is worthless: spent by its first connection.
    expect(await p.access.connections.decide(`0:${++connection}`, serialOf(profile))).toMatchObject(
      {
        allow: false,
        reason: expect.stringContaining("already used"),
      },
    );
  });

  test("a workstation has no agent: no secret works at the gateway API, no bundle, no signed settings", async () => {
    // Regression: a customer admin could re-key it with a proxy bundle and take its data channel.
    const created = await createGateway(p.adminCtx, p.proxyPool, siteId, {
      name: "Control PC 9",
      kind: "workstation",
    });
    const heartbeat = await p.app.request("https://localhost/api/gateway/v1/data-channel", {
      method: "POST",
      headers: {
        authorization: `Bearer ${created.gateway.id}.${created.secret}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ transport: "tcp" }),
    });
    expect(heartbeat.status).toBe(403);
    expect(await heartbeat.text()).toContain("a workstation has no gateway agent");
    await p.admin.get(`/gateways/${workstationId}/settings`);
    for (const [path, form] of [
      [
        `/gateways/${workstationId}/settings/bundle`,
        { proxyHost: "proxy.corp", proxyPort: "3128" },
      ],
      [`/gateways/${workstationId}/settings`, { sshEnabled: "on", uiReach: "lan" }],
      [`/gateways/${workstationId}/rekey`, {}],
    ] as const) {
      const refused = await p.admin.post(path, form);
      expect(refused.status).toBe(409);
      expect(await refused.text()).toContain("A workstation has no gateway agent");
    }
  });

  test("Go online while online: no second config, the existing tunnel is shown", async () => {
    await operator.get(`/gateways/${workstationId}`);
    const again = await operator.post(`/workstations/${workstationId}/online`);
    expect(again.status).toBe(303);
    expect(again.headers.get("location")).toBe(`/gateways/${workstationId}?online=already`);
    expect(await operator.page(`/gateways/${workstationId}?online=already`)).toContain(
      "online already",
    );
  });

  test("a technician reaches exactly its enabled services; ending the session takes it offline, and only the plant brings it back", async () => {
    const page = await tech.page(`/machines/${workstationMachineId}`);
    expect(page).toContain("Connect");
    const html = await (
      await tech.postShownOnce(`/machines/${workstationMachineId}/connect`, {
        reason: "HMI update",
      })
    ).text();
    expect(
      (await p.access.connections.decide(`0:${++connection}`, serialOf(profileFromPage(html))))
        .allow,
    ).toBe(true);
    expect([...p.dataPlane.grants.values()].map((g) => `${g.protocol}/${g.port}`)).toEqual([
      "tcp/5900",
    ]);
    const [session] = await p.access.remoteSessions.list(p.adminCtx, { open: true });
    await tech.get(`/machines/${workstationMachineId}`);
    expect((await tech.post(`/sessions/${session?.id}/disconnect`)).status).toBe(303);
    expect(p.dataPlane.grants.size).toBe(0);
    expect(p.dataPlane.workstations.size).toBe(0);
    expect(await operator.page(`/gateways/${workstationId}`)).toContain("offline");
    // A new file from the plant brings it back.
    const profile = await goOnline();
    expect((await p.access.connections.decide(`0:${++connection}`, serialOf(profile))).allow).toBe(
      true,
    );
  });

  test("Go offline from the portal closes its tunnel and stops translating its address", async () => {
    await operator.get(`/gateways/${workstationId}`);
    expect((await operator.post(`/workstations/${workstationId}/offline`)).status).toBe(303);
    expect(p.dataPlane.workstations.size).toBe(0);
    expect(p.dataPlane.disconnected.length).toBeGreaterThan(0);
    expect(await operator.page(`/gateways/${workstationId}`)).toContain("offline");
  });

  test("a workstation of another site or customer: another site's is refused, another customer's is not found", async () => {
    await operator.get(`/machines`);
    expect((await operator.post(`/workstations/${foreignWorkstationId}/online`)).status).toBe(404);
    expect((await operator.get(`/gateways/${otherSiteWorkstationId}`)).status).toBe(404);
    expect((await operator.post(`/workstations/${otherSiteWorkstationId}/online`)).status).toBe(
      404,
    );
    // A technician sees the workstation but cannot bring it online: that is the plant's decision.
    await tech.get(`/gateways/${workstationId}`);
    expect((await tech.post(`/workstations/${workstationId}/online`)).status).toBe(403);
  });
});

describe("the plant's operator", () => {
  test("sees only the machines of its site, and changes no master data", async () => {
    const machines = await operator.page("/machines");
    expect(machines).toContain("Control PC 1");
    // A token carries a whole customer's role: a site's operator is offered none, and told why.
    expect(machines).not.toContain('href="/account/api-tokens"');
    const tokens = await operator.page("/account/api-tokens");
    expect(tokens).toContain('id="no-token-roles"');
    expect(tokens).not.toContain("Create token");
    expect(machines).not.toContain("Depot PC");
    expect(machines).not.toContain("Other");
    await operator.get(`/machines/${workstationMachineId}`);
    expect(
      (
        await operator.post(`/machines/${workstationMachineId}/services`, {
          name: "SSH",
          protocol: "tcp",
          port: "22",
        })
      ).status,
    ).toBe(403);
  });

  test("sees who is connected to its machines and why, and ends any session there", async () => {
    const profile = await goOnline();
    await p.access.connections.decide(`0:${++connection}`, serialOf(profile));
    const html = await (
      await tech.postShownOnce(`/machines/${workstationMachineId}/connect`, {
        reason: "ticket 4711",
      })
    ).text();
    await p.access.connections.decide(`0:${++connection}`, serialOf(profileFromPage(html)));
    const sessions = await operator.page("/sessions");
    expect(sessions).toContain("Tech Nician");
    expect(sessions).toContain("ticket 4711");
    expect(sessions).toContain("Terminate");
    const [open] = await p.access.remoteSessions.list(p.adminCtx, { open: true });
    expect((await operator.post(`/sessions/${open?.id}/disconnect`)).status).toBe(303);
    const [ended] = await p.access.remoteSessions.list(p.adminCtx, { id: open?.id ?? "" });
    expect(ended).toMatchObject({ state: "ended", endReason: "operator" });
  });
});
