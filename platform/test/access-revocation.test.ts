// Access ends with the user: disabling a technician, or taking their role for the customer, ends
// their open remote sessions at the next session tick (every second) — grants cut, client killed,
// certificate revoked — and a config they downloaded before opens nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import type { Context } from "../src/access/index.ts";
import { issuedCertificates, roleAssignments } from "../src/db/index.ts";
import { arrangeMachine } from "./support/arrange.ts";
import { dataChannelProfile, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

let p: TestPlatform;
let gatewayId: string;
let machineId: string;
let technician: Context;
let connection = 0;

async function activeSession(reason: string) {
  const { session, profile } = await p.access.remoteSessions.request(technician, machineId, {
    reason,
  });
  const id = `0:${++connection}`;
  expect((await p.access.connections.decide(id, serialOf(profile))).allow).toBe(true);
  return { session, connection: id };
}

const stateOf = async (id: string) => (await p.access.remoteSessions.list(p.adminCtx, { id }))[0];

beforeAll(async () => {
  p = await testPlatform();
  ({ gatewayId, machineId, technician } = await arrangeMachine(p, [
    { name: "Web", protocol: "tcp", port: 443, enabled: true },
  ]));
  const { envelope } = await p.access.dataChannels.request(gatewayId);
  const profile = await dataChannelProfile(p, gatewayId, envelope);
  expect((await p.access.connections.decide("0:100", serialOf(profile))).allow).toBe(true);
});
afterAll(() => p.dispose());

describe("access that ends with the user", () => {
  test("disabling a technician ends their open sessions at the next tick: grants, client, certificate", async () => {
    const { session, connection: open } = await activeSession("before disable");
    const waiting = await p.access.remoteSessions.request(technician, machineId, {
      reason: "downloaded, not used yet",
    });
    expect(p.dataPlane.grants.size).toBe(1);
    const userId = technician.caller.principal.userId;
    await p.admin.get(`/users/${userId}`);
    expect((await p.admin.post(`/users/${userId}/disable`)).status).toBe(303);
    await p.access.ends.endDue(); // the session tick, every second
    expect(await stateOf(session.id)).toMatchObject({
      state: "ended",
      endReason: "access_revoked",
    });
    expect(await stateOf(waiting.session.id)).toMatchObject({
      state: "ended",
      endReason: "access_revoked",
    });
    expect(p.dataPlane.grants.size).toBe(0);
    expect(p.dataPlane.disconnected).toContain(open);
    const [certificate] = await p.database.db
      .select()
      .from(issuedCertificates)
      .where(eq(issuedCertificates.ownerId, session.id));
    expect(certificate?.revokedAt).not.toBeNull();
    // The config downloaded before opens nothing.
    expect(
      await p.access.connections.decide(`0:${++connection}`, serialOf(waiting.profile)),
    ).toMatchObject({ allow: false });
    await p.admin.post(`/users/${userId}/enable`);
  });

  test("a config downloaded before the technician lost the customer's role is refused at connect", async () => {
    const { session, profile } = await p.access.remoteSessions.request(technician, machineId, {
      reason: "before demotion",
    });
    await p.database.db
      .delete(roleAssignments)
      .where(
        and(
          eq(roleAssignments.userId, technician.caller.principal.userId),
          eq(roleAssignments.role, "technician"),
        ),
      );
    expect(await p.access.connections.decide(`0:${++connection}`, serialOf(profile))).toEqual({
      allow: false,
      reason: "the technician may no longer connect to this customer",
    });
    expect(await stateOf(session.id)).toMatchObject({
      state: "ended",
      endReason: "access_revoked",
    });
    expect(p.dataPlane.grants.size).toBe(0);
  });
});
