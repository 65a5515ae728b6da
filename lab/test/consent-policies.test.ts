// Every consent policy end to end with real packets, in one scene (site ACME, its policy switched
// on the site page): 1 operator Connect gives the .ovpn at once; 2 the operator allows a request
// through the gateway's local consent API (the lamp file and the signal say one waits) — a denial
// grants nothing; 3 a customer approver allows in the portal; 4 two-party: the operator's approval
// alone gives no .ovpn and opens nothing, the customer's second approval does, and the session's
// end counts from it; and a request nobody decides expires (decide-by 1 minute, checked last).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, labSkipReason } from "../src/netns.ts";
import {
  decideInPortal,
  PortalClient,
  requestAccess,
  requestProfile,
  setConsentPolicy,
} from "../src/portal.ts";
import { type Lab, PORTAL, type Site, startLab } from "../src/topology.ts";

const skip = labSkipReason(["openvpn", "nft", "conntrack", "dnsmasq", "chronyd", "dropbear"]);

describe.skipIf(skip !== null)("consent policies through the real tunnels", () => {
  let lab: Lab;
  let A: Site;
  let tina: PortalClient;
  let carla: PortalClient;
  /** Made under policy 2 with a decide-by of 1 minute, never decided: it must expire. */
  let undecided: string;
  let undecidedAt: number;

  const state = async () => (await A.local("GET", "/state")).body;
  const lamp = () => readFileSync(A.lampPath, "utf8");
  const web = () => lab.fetchFromTechnician(`http://${A.proxyAddress}/`);
  const gatewaySessions = async () =>
    ((await state()).remoteSessions as { id: string; until: string }[]) ?? [];
  const pendingAtGateway = async () =>
    ((await A.local("GET", "/requests")).body.requests as { id: string }[]).map((r) => r.id);

  async function armed() {
    await A.local("POST", "/connect");
    if (!(await eventually(async () => (await state()).state === "online", 20_000, 100)))
      throw new Error(`ACME not online:\n${A.agent.log.text.slice(-2000)}`);
  }

  /**
   * The technician connects with `profile`, reaches the machine's web UI, and closes the client;
   * returns once the gateway has heard that the session ended (its data channel closed with it, or
   * not, as the policy says), so the next Connect is not lost to a close still in flight.
   */
  async function reachWith(profile: string) {
    const vpn = await lab.openvpn(profile);
    let mine: string[] = [];
    try {
      expect(await eventually(async () => web() !== null, 15_000, 200)).toBe(true);
      expect(web()).toBe("machine ACME web UI\n");
      mine = (await gatewaySessions()).map((s) => s.id);
    } finally {
      await vpn.stop();
    }
    const gone = async () =>
      (await state()).state === "idle" ||
      !(await gatewaySessions()).some((s) => mine.includes(s.id));
    expect(await eventually(gone, 15_000, 200)).toBe(true);
  }

  async function profileOf(id: string): Promise<string> {
    const got = await requestProfile(tina, id);
    if (!("profile" in got)) throw new Error(`no .ovpn for ${id}: ${got.status} ${got.message}`);
    return got.profile;
  }

  beforeAll(async () => {
    lab = await startLab({ remoteSessionMinutes: 5, technicianCertMinutes: 1 });
    [A] = lab.sites;
    const [, B] = lab.sites;
    writeFileSync(join(lab.dir, "gateway-acme", "import", "bundle.jws"), A.bundle);
    writeFileSync(join(lab.dir, "gateway-bolt", "import", "bundle.jws"), B.bundle);
    for (const site of [A, B])
      await eventually(
        async () => site.agent.log.has(`gateway ${site.gatewayId}, version`),
        10_000,
      );
    tina = await lab.technician("tina");
    const password = await lab.admin.createUser(
      "carla",
      "Carla Approver",
      "customer_admin",
      A.customerId,
    );
    carla = new PortalClient(PORTAL, lab.hosts);
    await carla.firstSignIn("carla", password);
  }, 180_000);

  afterAll(async () => {
    await lab?.stop();
  }, 60_000);

  test("1. operator Connect: the .ovpn at once, the machine reached", async () => {
    await armed();
    expect(lamp()).toBe("0");
    await reachWith(await tina.connect(A.machineId, "policy 1: spindle alarm"));
  }, 60_000);

  test("2. operator approval: the lamp and signal show the request; Allow at the gateway → reach; Deny → nothing", async () => {
    await setConsentPolicy(lab.admin, A.siteId, "operator_approval", 1);
    await armed();
    undecided = await requestAccess(tina, A.machineId, "policy 2: nobody will decide this");
    undecidedAt = Date.now();
    const allowed = await requestAccess(tina, A.machineId, "policy 2: axis 3", { minutes: "3" });
    expect(
      await eventually(async () => (await pendingAtGateway()).includes(allowed), 10_000, 200),
    ).toBe(true);
    // Oldest first; the lamp and the signal say two wait.
    expect(await pendingAtGateway()).toEqual([undecided, allowed]);
    expect((await A.local("GET", "/signal")).body).toEqual({ requestPending: true, count: 2 });
    expect(lamp()).toBe("1");
    // Nothing before the operator decides: no .ovpn; the portal cannot allow it.
    expect(await requestProfile(tina, allowed)).toMatchObject({ status: 409 });
    const portal = await decideInPortal(carla, allowed, "approve");
    expect(portal.status).toBe(409);
    expect(portal.message).toContain("operator at the machine");

    const decided = await A.local("POST", `/requests/${allowed}/allow`);
    expect(decided).toMatchObject({ status: 200, body: { outcome: "granted" } });
    expect((await A.local("POST", `/requests/${allowed}/allow`)).body).toMatchObject({
      outcome: "already_approved",
    });
    await reachWith(await profileOf(allowed));

    await armed();
    const denied = await requestAccess(tina, A.machineId, "policy 2: to be denied");
    expect(
      await eventually(async () => (await pendingAtGateway()).includes(denied), 10_000, 200),
    ).toBe(true);
    expect((await A.local("POST", `/requests/${denied}/deny`)).body).toMatchObject({
      outcome: "denied",
    });
    expect(await requestProfile(tina, denied)).toMatchObject({ status: 409 });
    expect((await gatewaySessions()).map((s) => s.id)).not.toContain(denied);
    expect((await A.local("POST", `/requests/${denied}/allow`)).status).toBe(409);
    // Another gateway's agent does not know it.
    const [, B] = lab.sites;
    expect((await B.local("POST", `/requests/${denied}/allow`)).status).toBe(404);
  }, 90_000);

  test("3. customer approval in the portal → reach", async () => {
    await setConsentPolicy(lab.admin, A.siteId, "customer_approval");
    await armed();
    const id = await requestAccess(tina, A.machineId, "policy 3: recipe upload");
    expect(await requestProfile(tina, id)).toMatchObject({ status: 409 });
    expect((await A.local("POST", `/requests/${id}/allow`)).status).toBe(409);
    expect((await decideInPortal(carla, id, "approve")).location).toEndWith(
      "/sessions?decision=approved",
    );
    await reachWith(await profileOf(id));
  }, 60_000);

  test("4. two-party: the operator alone grants nothing; the customer's approval does, and the clock starts then", async () => {
    await setConsentPolicy(lab.admin, A.siteId, "two_party");
    await armed();
    const id = await requestAccess(tina, A.machineId, "policy 4: both must agree", {
      minutes: "2",
    });
    expect(await eventually(async () => (await pendingAtGateway()).includes(id), 10_000, 200)).toBe(
      true,
    );
    expect((await A.local("POST", `/requests/${id}/allow`)).body).toMatchObject({
      outcome: "approved_partly",
    });
    const operatorApprovedAt = Date.now();
    expect(await requestProfile(tina, id)).toMatchObject({ status: 409 });
    // Two heartbeats later the gateway still lets nothing through for it.
    await Bun.sleep(4500);
    expect((await gatewaySessions()).map((s) => s.id)).not.toContain(id);
    expect(await pendingAtGateway()).not.toContain(id);

    const customerApprovedAt = Date.now();
    expect((await decideInPortal(carla, id, "approve")).location).toEndWith(
      "/sessions?decision=approved",
    );
    expect(
      await eventually(async () => (await gatewaySessions()).some((s) => s.id === id), 10_000, 200),
    ).toBe(true);
    const until = Date.parse(
      (await gatewaySessions()).find((s) => s.id === id)?.until ?? "invalid",
    );
    // Two minutes from the second approval — not from the request, not from the first approval.
    expect(Math.abs(until - (customerApprovedAt + 120_000))).toBeLessThan(3000);
    expect(until - (operatorApprovedAt + 120_000)).toBeGreaterThan(3500);
    await reachWith(await profileOf(id));
  }, 90_000);

  test("an undecided request expires at its decide-by time: no .ovpn, the gateway's Allow is 409, the lamp is off", async () => {
    const deadline = undecidedAt + 60_000;
    expect(
      await eventually(
        async () => (await tina.page(`/requests/${undecided}/status`)).includes("in time"),
        Math.max(5000, deadline - Date.now() + 15_000),
        1000,
      ),
    ).toBe(true);
    expect(Date.now()).toBeGreaterThanOrEqual(deadline - 1000);
    expect(await requestProfile(tina, undecided)).toMatchObject({ status: 409 });
    const late = await A.local("POST", `/requests/${undecided}/allow`);
    expect(late.status).toBe(409);
    expect(String((late.body.error as { message: string }).message)).toContain("expired");
    expect(await eventually(async () => lamp() === "0", 5000, 200)).toBe(true);
    expect((await A.local("GET", "/signal")).body).toEqual({ requestPending: false, count: 0 });
  }, 90_000);
});
