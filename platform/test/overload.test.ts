// Overload is not a database loss. With the platform's connection pool held by slow queries, a
// flood of heartbeats and an event loop blocked for seconds, session ticks hang for longer than
// the grace period: a watch judging by ticks alone would cut every live session. The database
// probe (its own connection and thread) still answers, so nothing is cut; when the database host
// really goes away (a relay cut), everything is cut within the grace period and a beat.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { prerequisite } from "../../common/test/support/prerequisite.ts";
import { type DatabaseReachability, probePostgres } from "../src/db/index.ts";
import { DatabaseWatch } from "../src/sessions/index.ts";
import { arrangeMachine, type Scene } from "./support/arrange.ts";
import { testDatabase } from "./support/database.ts";
import { admitChannelAndSession, gatewayCall } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { type TcpRelay, tcpRelay } from "./support/tcp-relay.ts";

const GRACE_MS = 5000;
const server = process.env.DATABASE_URL ?? process.env.CI_DATABASE_URL;
const skip = prerequisite(
  "the overload test",
  server ? null : "needs a PostgreSQL server (DATABASE_URL or CI_DATABASE_URL)",
);

let p: TestPlatform;
let scene: Scene;
let relay: TcpRelay;
let relayedUrl: string;
/** The server's own host:port (not through the relay). */
let hostPort: string;
let reachability: DatabaseReachability;
let connection = 0;

const gatewayApi = (path: string, body: unknown) =>
  gatewayCall(p, { gatewayId: scene.gatewayId, secret: scene.gatewaySecret }, path, body);

/** Blocks this thread (the platform's event loop) for `ms`, as a saturated CPU would. */
function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {}
}

describe.skipIf(skip !== null)("overload is not a database loss", () => {
  beforeAll(async () => {
    const target = new URL(server ?? "");
    hostPort = target.host;
    relay = await tcpRelay(target.hostname, Number(target.port || 5432));
    const database = await testDatabase({
      server,
      route: (url) => {
        url.hostname = "127.0.0.1";
        url.port = String(relay.port);
        relayedUrl = url.toString();
      },
    });
    p = await testPlatform({ database });
    scene = await arrangeMachine(p, [
      { name: "Web UI", protocol: "tcp", port: 443, enabled: true },
    ]);
    reachability = probePostgres(relayedUrl);
    // The operator's Connect and a technician's session: live grants on the data plane.
    await admitChannelAndSession(p, scene, "ticket 7100", () => `0:${++connection}`);
  });
  afterAll(async () => {
    reachability?.stop();
    await p?.database.close().catch(() => {});
    await p?.dispose().catch(() => {});
  });

  test("a locked table, 300 queued heartbeats and a blocked event loop cut nothing; a tick-only watch would have", async () => {
    const grants = p.dataPlane.grants.size;
    expect(grants).toBeGreaterThan(0);
    const watch = new DatabaseWatch(p.access.watched, GRACE_MS, () => reachability.lastAnswer());
    // The same run's baseline: a watch that judges by ticks alone (a probe that never answers),
    // told to cut nothing but to say whether it would have.
    let tickOnlyWouldCut = false;
    const baseline = new DatabaseWatch(
      {
        tick: () => p.access.watched.tick(),
        cutForLostDatabase: async () => {
          tickOnlyWouldCut = true;
        },
        recordDatabaseCut: async () => 0,
      },
      GRACE_MS,
      () => 0,
      Date.now,
      () => {},
    );
    const beats = setInterval(() => {
      void watch.beat();
      void baseline.beat();
    }, 1000);
    try {
      // The database busy: a transaction elsewhere locks the sessions table for 8 s, so every
      // tick and heartbeat waits; 300 heartbeats queue meanwhile; then the platform's own thread
      // is saturated for 6 s on end.
      const admin = postgres(relayedUrl.replace(`127.0.0.1:${relay.port}`, hostPort), {
        max: 1,
        onnotice: () => {},
      });
      const locked = admin.begin(async (tx) => {
        await tx`lock table remote_sessions in access exclusive mode`;
        await tx`select pg_sleep(8)`;
      });
      await Bun.sleep(300);
      const heartbeats = Array.from({ length: 300 }, () =>
        gatewayApi("/heartbeat", {
          state: "online",
          gatewaySessionId: null,
          agentVersion: "0.1.0",
          openvpnVersion: "2.6.14",
          localTime: new Date().toISOString(),
          lastError: null,
        }).then((r: Response) => r.status),
      );
      await Bun.sleep(1000);
      busy(6000);
      await locked;
      await admin.end();
      const statuses = await Promise.all(heartbeats);
      await Bun.sleep(1500);
      expect(statuses.filter((s) => s >= 500)).toEqual([]);
      expect(tickOnlyWouldCut).toBe(true);
      expect(p.dataPlane.cuts).toBe(0);
      expect(p.dataPlane.grants.size).toBe(grants);
    } finally {
      clearInterval(beats);
    }
  }, 60_000);

  test("the database host gone: everything is cut within the grace period and a beat", async () => {
    const watch = new DatabaseWatch(p.access.watched, GRACE_MS, () => reachability.lastAnswer());
    const beats = setInterval(() => void watch.beat(), 1000);
    try {
      const lost = Date.now();
      await relay.cut();
      while (p.dataPlane.cuts === 0 && Date.now() - lost < 15_000) await Bun.sleep(50);
      const afterMs = Date.now() - lost;
      console.log(`database host gone → all access cut after ${afterMs} ms`);
      expect(p.dataPlane.cuts).toBe(1);
      expect(p.dataPlane.grants.size).toBe(0);
      expect(afterMs).toBeLessThanOrEqual(GRACE_MS + 1500);
    } finally {
      clearInterval(beats);
    }
  }, 30_000);
});
