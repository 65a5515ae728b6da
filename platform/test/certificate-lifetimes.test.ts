// One-time certificates over hours and days: a certificate opens its connection only within its
// config's window, and then lives as long as its session, so TLS renegotiations (every hour by
// default, or whenever a client asks) never cut a tunnel early; data channels are renewed at their
// maximum lifetime. The clock is injected; no real time passes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import type { Context } from "../src/access/index.ts";
import { gatewaySessions } from "../src/db/index.ts";
import { arrangeMachine } from "./support/arrange.ts";
import { certificateOf, dataChannelProfile, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

let p: TestPlatform;
let gatewayId: string;
let machineId: string;
let technician: Context;
let connection = 0;
const HOUR = 3_600_000;

async function gatewayOnline() {
  const { envelope, session } = await p.access.dataChannels.request(gatewayId);
  const profile = await dataChannelProfile(p, gatewayId, envelope);
  const id = `0:${++connection}`;
  const decision = await p.access.connections.decide(id, serialOf(profile));
  if (!decision.allow) throw new Error(decision.reason);
  return { session, profile, connection: id };
}

beforeAll(async () => {
  p = await testPlatform();
  ({ gatewayId, machineId, technician } = await arrangeMachine(p, [
    { name: "Web", protocol: "tcp", port: 443, enabled: true },
  ]));
});
afterAll(() => p.dispose());

describe("the CA page", () => {
  test('regression: states the lifetimes the certificates really have (not "valid 10 min")', async () => {
    const page = await p.admin.page("/pki");
    expect(page).not.toContain("valid 10 min, one connection each");
    expect(page).toContain(
      "one connection each, opened within 10 min of the download; it then lives until its remote session ends (at most 60 min)",
    );
    expect(page).toContain(
      "one connection each, opened within 10 min; it then lives as long as its data channel (renewed after 720 h)",
    );
    // And so they do: a technician's certificate ends with its session, not 10 minutes after issue.
    await gatewayOnline();
    const { session, profile } = await p.access.remoteSessions.request(technician, machineId, {
      reason: "page check",
    });
    const notAfter = certificateOf(profile).notAfter.getTime();
    expect(notAfter).toBeGreaterThanOrEqual(session.endsAt.getTime());
    expect(notAfter - p.clock.now().getTime()).toBeGreaterThan(50 * 60_000);
    await p.access.remoteSessions.disconnect(technician, session.id);
  });
});

describe("certificates bound to their session", () => {
  test("a technician's certificate lives until the session's end; renegotiation works past its config window", async () => {
    await gatewayOnline();
    const { session, profile } = await p.access.remoteSessions.request(technician, machineId, {
      reason: "long job",
    });
    const certificate = certificateOf(profile);
    // Valid through the session (60 min), not just the 10 minutes the config may be opened in.
    expect(certificate.notAfter.getTime()).toBeGreaterThanOrEqual(session.endsAt.getTime());
    expect(certificate.notAfter.getTime() - session.endsAt.getTime()).toBeLessThanOrEqual(60_000);
    const id = `0:${++connection}`;
    expect((await p.access.connections.decide(id, serialOf(profile))).allow).toBe(true);
    // 40 minutes later — long past the config's window — the same connection renegotiates.
    p.clock.advance(40 * 60_000);
    expect(await p.access.connections.decide(id, serialOf(profile))).toMatchObject({
      allow: true,
    });
    // Any other connection with it is a replay, however long the certificate still lives.
    expect(await p.access.connections.decide(`0:${++connection}`, serialOf(profile))).toEqual({
      allow: false,
      reason: expect.stringContaining("already used"),
    });
  });

  test("an unused config opens nothing after its window, though its certificate lives on", async () => {
    const { profile } = await p.access.remoteSessions.request(technician, machineId, {
      reason: "late start",
    });
    p.clock.advance(11 * 60_000);
    expect(certificateOf(profile).notAfter.getTime()).toBeGreaterThan(p.clock.now().getTime());
    expect(await p.access.connections.decide(`0:${++connection}`, serialOf(profile))).toEqual({
      allow: false,
      reason: expect.stringContaining("expired unused"),
    });
  });

  test("a data channel's certificate lives as long as the channel; its envelope only for the window", async () => {
    const { session, profile } = await gatewayOnline();
    const certificate = certificateOf(profile);
    expect(session.endsAt?.getTime()).toBe(session.requestedAt.getTime() + 30 * 24 * HOUR);
    expect(certificate.notAfter.getTime()).toBeGreaterThanOrEqual(session.endsAt?.getTime() ?? 0);
    // A week later (the CRL renewed as the platform does every 10 minutes) its renegotiations pass.
    p.clock.advance(7 * 24 * HOUR);
    await p.pki.refreshTrustFiles();
    const [row] = await p.database.db
      .select()
      .from(gatewaySessions)
      .where(eq(gatewaySessions.id, session.id));
    expect(row?.state).toBe("online");
    expect(
      await p.access.connections.decide(row?.connection ?? "", serialOf(profile)),
    ).toMatchObject({ allow: true });
  });

  test("a data channel's envelope expires with its window: a late Connect opens nothing", async () => {
    const { envelope } = await p.access.dataChannels.request(gatewayId);
    const profile = await dataChannelProfile(p, gatewayId, envelope);
    p.clock.advance(13 * 60_000); // 10 minutes, and the 2 minutes of clock tolerance
    await expect(dataChannelProfile(p, gatewayId, envelope)).rejects.toThrow("expired");
    expect(await p.access.connections.decide(`0:${++connection}`, serialOf(profile))).toEqual({
      allow: false,
      reason: expect.stringContaining("expired unused"),
    });
  });

  test("at its maximum lifetime the platform renews a data channel; the gateway may reconnect by itself", async () => {
    const { session } = await gatewayOnline();
    p.clock.advance(30 * 24 * HOUR);
    await p.access.ends.endDue();
    const [row] = await p.database.db
      .select()
      .from(gatewaySessions)
      .where(eq(gatewaySessions.id, session.id));
    expect(row).toMatchObject({ state: "closed", closeReason: "renewal" });
    expect(await p.access.dataChannels.reconnect(gatewayId, session.id)).toEqual({ ok: true });
  });
});
