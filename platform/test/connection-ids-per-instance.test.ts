// Regression (found by the HA Compose lab): OpenVPN connection ids ("<server>:<client>") restart on
// every platform instance, so two instances hold different sessions under the same id. A gateway
// disconnecting from instance B closed instance A's gateway with the same id as gateway_lost; a
// byte count on B was written to A's channel; a server crash on B ended A's sessions.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { gatewaySessions } from "../src/db/index.ts";
import { createRemoteAccess } from "../src/sessions/remote-access.ts";
import { arrangeMachine, type Scene } from "./support/arrange.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

describe("connection ids name a session only on their own instance", () => {
  let p: TestPlatform;
  let scene: Scene;
  let onA = "";
  let onB = "";

  beforeAll(async () => {
    p = await testPlatform();
    scene = await arrangeMachine(p, []);
    const inserted = await p.database.db
      .insert(gatewaySessions)
      .values([row("platform-a", "100.126.0.2"), row("platform-b", "100.127.0.2")])
      .returning({ id: gatewaySessions.id, instanceId: gatewaySessions.instanceId });
    onA = inserted.find((r) => r.instanceId === "platform-a")?.id ?? "";
    onB = inserted.find((r) => r.instanceId === "platform-b")?.id ?? "";
  });
  afterAll(async () => {
    await p.dispose();
  });

  /** An online data channel of the scene's gateway on `instanceId`, client 0 of server 0. */
  const row = (instanceId: string, tunnelAddress: string) => ({
    gatewayId: scene.gatewayId,
    customerId: scene.customerId,
    state: "online" as const,
    vpnInstance: 0,
    tunnelAddress,
    instanceId,
    connection: "0:0",
    requestedAt: p.clock.now(),
    onlineAt: p.clock.now(),
  });

  /** Instance B's remote access over the same database (the platform's own parts). */
  const instanceB = () =>
    createRemoteAccess({ ...p.accessDeps, instanceId: "platform-b" }).connections;
  const channel = async (id: string) =>
    (
      await p.database.db
        .select({
          state: gatewaySessions.state,
          closeReason: gatewaySessions.closeReason,
          bytesIn: gatewaySessions.bytesIn,
        })
        .from(gatewaySessions)
        .where(eq(gatewaySessions.id, id))
    )[0];

  test("a byte count on B is B's channel's, not A's", async () => {
    await instanceB().countBytes("0:0", 1234, 5678);
    expect((await channel(onB))?.bytesIn).toBe(1234);
    expect((await channel(onA))?.bytesIn).toBe(0);
  });

  test("a disconnect on B closes B's channel only", async () => {
    await instanceB().closed("0:0");
    expect(await channel(onB)).toMatchObject({ state: "closed", closeReason: "gateway_lost" });
    expect(await channel(onA)).toMatchObject({ state: "online", closeReason: null });
  });

  test("a crash of B's OpenVPN server 0 ends B's sessions only", async () => {
    const [again] = await p.database.db
      .insert(gatewaySessions)
      .values(row("platform-b", "100.127.0.3"))
      .returning({ id: gatewaySessions.id });
    await instanceB().serverLost(0);
    expect(await channel(again?.id ?? "")).toMatchObject({
      state: "closed",
      closeReason: "vpn_failure",
    });
    expect(await channel(onA)).toMatchObject({ state: "online", closeReason: null });
  });
});
