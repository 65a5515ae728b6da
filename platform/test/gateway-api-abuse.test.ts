// The gateway API under abuse. Regressions: 1,000 wrong secrets in 2.3 s were all answered 401
// (no throttling), and every failed authentication appended an audit row — 20 anonymous clients
// grew the append-only log by ~766 rows/s.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { count, eq } from "drizzle-orm";
import { auditEntries } from "../src/db/index.ts";
import { arrangeMachine, type Scene } from "./support/arrange.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

let p: TestPlatform;
let scene: Scene;

beforeAll(async () => {
  p = await testPlatform();
  scene = await arrangeMachine(p, [{ name: "Web UI", protocol: "tcp", port: 443, enabled: true }]);
}, 60_000);
afterAll(() => p.dispose());

/** A heartbeat from `address`, as Bun's server would report the client (hono/bun getConnInfo). */
function heartbeat(address: string, authorization: string) {
  return p.app.request(
    "https://localhost/api/gateway/v1/heartbeat",
    {
      method: "POST",
      headers: { authorization, "content-type": "application/json" },
      body: JSON.stringify({
        state: "idle",
        gatewaySessionId: null,
        agentVersion: "0.1.0",
        openvpnVersion: null,
        localTime: p.clock.now().toISOString(),
        lastError: null,
      }),
    },
    { requestIP: () => ({ address, family: "IPv4", port: 40_000 }) },
  );
}

async function auditRows(): Promise<number> {
  const [row] = await p.database.db
    .select({ n: count() })
    .from(auditEntries)
    .where(eq(auditEntries.action, "gateway_api.auth"));
  return row?.n ?? 0;
}

describe("gateway API abuse", () => {
  test("1,000 wrong secrets from one source: 20 are checked, the rest get 429 with Retry-After; one audit entry", async () => {
    const before = await auditRows();
    const statuses = new Map<number, number>();
    let retryAfter = "";
    for (let i = 0; i < 1000; i++) {
      const response = await heartbeat("203.0.113.50", `Bearer ${scene.gatewayId}.guess-${i}`);
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      if (response.status === 429) retryAfter = response.headers.get("retry-after") ?? "";
    }
    expect(Object.fromEntries(statuses)).toEqual({ 401: 20, 429: 980 });
    expect(Number(retryAfter)).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);

    // The real gateway, from its own address, is not held up by the attacker.
    const own = await heartbeat(
      "198.51.100.20",
      `Bearer ${scene.gatewayId}.${scene.gatewaySecret}`,
    );
    expect(own.status).toBe(200);
    // Nor from the attacker's own address (a shared NAT): valid credentials are checked first.
    // Regression: after 20 wrong secrets from 127.0.0.1 a correct heartbeat got 429.
    const beside = await heartbeat(
      "203.0.113.50",
      `Bearer ${scene.gatewayId}.${scene.gatewaySecret}`,
    );
    expect(beside.status).toBe(200);
    expect((await heartbeat("203.0.113.50", "Bearer x.y")).status).toBe(429);

    // Nothing written while the interval runs; one entry with the counts when it has ended.
    expect(await p.authFailures.flush()).toBe(0);
    expect(await auditRows()).toBe(before);
    p.clock.advance(60_000);
    expect(await p.authFailures.flush()).toBe(1);
    const [entry] = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, "gateway_api.auth"))
      .orderBy(auditEntries.seq)
      .offset(before);
    expect(entry?.ip).toBe("203.0.113.50");
    expect(entry?.result).toBe("denied");
    expect(entry?.detail).toMatchObject({
      failures: 20,
      throttled: 981,
      gatewayIds: [scene.gatewayId],
    });

    // A new interval: the source may try again.
    expect((await heartbeat("203.0.113.50", "Bearer x.y")).status).toBe(401);
  }, 60_000);

  test("20 anonymous clients × 50 requests: the audit log grows by 20 entries, not 1,000", async () => {
    await p.authFailures.flush({ all: true });
    const before = await auditRows();
    await Promise.all(
      Array.from({ length: 20 }, async (_, client) => {
        for (let i = 0; i < 50; i++) await heartbeat(`192.0.2.${client + 1}`, "");
      }),
    );
    expect(await auditRows()).toBe(before);
    p.clock.advance(60_000);
    expect(await p.authFailures.flush()).toBe(20);
    expect(await auditRows()).toBe(before + 20);
  }, 60_000);
});
