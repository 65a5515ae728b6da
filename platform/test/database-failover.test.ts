// PostgreSQL failover: a real primary and synchronous hot standby (support/pg-standby.ts), the
// platform on a multi-host DATABASE_URL with target_session_attrs=read-write. The primary is
// stopped hard: the fail-closed watch cuts everything within the grace period, as for any lost
// database, and writes fail. The standby is promoted: the platform's pool and its database probe
// find the new primary by themselves, writes succeed again, the cut session is recorded as ended,
// and everything recorded before the crash is there — the audit chain verifies, nothing twice.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { asc, eq, sql } from "drizzle-orm";
import { prerequisite } from "../../common/test/support/prerequisite.ts";
import { verifyAuditChain } from "../src/audit/index.ts";
import {
  auditEntries,
  customers,
  type DatabaseReachability,
  openDatabase,
  probePostgres,
  remoteSessions,
} from "../src/db/index.ts";
import { createCustomer } from "../src/masterdata/index.ts";
import { DatabaseWatch } from "../src/sessions/index.ts";
import { arrangeMachine, type Scene } from "./support/arrange.ts";
import { admitChannelAndSession, serialOf } from "./support/gateway.ts";
import { type StandbyPair, standbyPairMissing, startStandbyPair } from "./support/pg-standby.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

const GRACE_MS = 5000;
const skip = prerequisite("the database failover test", await standbyPairMissing());

let pair: StandbyPair | undefined;
let p: TestPlatform | undefined;
let scene: Scene;
let reachability: DatabaseReachability | undefined;
let sessionProfile: string;
let connection = 0;

const platform = (): TestPlatform => {
  if (!p) throw new Error("platform not started");
  return p;
};

/** Polls `done` every 50 ms for at most `ms`; resolves to whether it came true. */
async function until(done: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await done()) return true;
    await Bun.sleep(50);
  }
  return done();
}

describe.skipIf(skip !== null)("PostgreSQL failover to a promoted standby", () => {
  beforeAll(async () => {
    pair = await startStandbyPair();
    // As an operator writes it: both servers, the writable one wanted (libpq's spelling).
    const url = pair.url.replace("target_session_attrs=primary", "target_session_attrs=read-write");
    const database = openDatabase({ url, dataDir: null });
    await database.migrate();
    p = await testPlatform({ database: { ...database, url, dispose: () => database.close() } });
    scene = await arrangeMachine(p, [
      { name: "Web UI", protocol: "tcp", port: 443, enabled: true },
    ]);
    reachability = probePostgres(url);
    // The operator's Connect and a technician's session: live grants on the data plane.
    ({ sessionProfile } = await admitChannelAndSession(
      p,
      scene,
      "ticket 7200",
      () => `0:${++connection}`,
    ));
  }, 60_000);

  afterAll(async () => {
    reachability?.stop();
    await p?.dispose().catch(() => {});
    await pair?.dispose();
  });

  test("primary killed: cut within the grace period; standby promoted: writes resume, nothing lost or doubled", async () => {
    const p = platform();
    const servers = pair as StandbyPair;
    await createCustomer(p.adminCtx, { name: "Recorded before the crash" });
    const before = await p.database.db.select().from(auditEntries).orderBy(asc(auditEntries.seq));
    const customersBefore = await p.database.db.select().from(customers);
    const sessionsBefore = await p.database.db.select().from(remoteSessions);
    expect(before.length).toBeGreaterThan(10);
    expect(p.dataPlane.grants.size).toBeGreaterThan(0);

    const watch = new DatabaseWatch(p.access.watched, GRACE_MS, () =>
      (reachability as DatabaseReachability).lastAnswer(),
    );
    const beats = setInterval(() => void watch.beat(), 1000);
    try {
      await Bun.sleep(1500); // the watch running, the database answering: nothing cut
      expect(p.dataPlane.cuts).toBe(0);

      const killed = Date.now();
      await servers.killPrimary();
      expect(await until(() => p.dataPlane.cuts > 0, 15_000)).toBe(true);
      const cutMs = Date.now() - killed;
      expect(p.access.gate.cutForDatabase).toBe(true);
      expect(p.dataPlane.grants.size).toBe(0);
      expect(cutMs).toBeLessThanOrEqual(GRACE_MS + 1500);
      // Fail closed meanwhile: a connection is not let in and a write does not happen. Both wait
      // for the database (postgres.js holds queries while no server of the URL takes writes).
      const settled: string[] = [];
      const decision = p.access.connections
        .decide(`0:${++connection}`, serialOf(sessionProfile))
        .finally(() => settled.push("decision"));
      const held = createCustomer(p.adminCtx, { name: "Asked for during the switch" }).finally(() =>
        settled.push("write"),
      );
      await Bun.sleep(1500);
      expect(settled).toEqual([]);

      const promoting = Date.now();
      await servers.promoteStandby();
      const promotedMs = Date.now() - promoting;
      // What waited runs once on the new primary: the refusal (audited) and the write.
      expect(await decision).toEqual({
        allow: false,
        reason: "access is cut: the database was lost",
      });
      await held;
      const heldMs = Date.now() - promoting;
      let written = false;
      await until(async () => {
        written = await createCustomer(p.adminCtx, { name: "Written after the switch" }).then(
          () => true,
          () => false,
        );
        return written;
      }, 30_000);
      expect(written).toBe(true);
      const writeMs = Date.now() - promoting;
      // The watch's next tick records the cut session as ended and lifts the cut.
      expect(await until(() => !p.access.gate.cutForDatabase, 10_000)).toBe(true);
      const recoveredMs = Date.now() - promoting;
      console.log(
        `primary killed → all access cut after ${cutMs} ms; pg_ctl promote took ${promotedMs} ms; ` +
          `promote → held write done ${heldMs} ms, new write done ${writeMs} ms, cut lifted ${recoveredMs} ms`,
      );
    } finally {
      clearInterval(beats);
    }

    // The platform now talks to the promoted standby.
    const [server] = (await p.database.db.execute(
      sql`select inet_server_port() as port, pg_is_in_recovery() as recovery`,
    )) as unknown as { port: number; recovery: boolean }[];
    expect(server).toEqual({ port: servers.standbyPort, recovery: false });
    expect((await p.app.request("https://localhost/healthz")).status).toBe(200);

    // Every entry and row acknowledged before the crash, unchanged; the new ones after them.
    const after = await p.database.db.select().from(auditEntries).orderBy(asc(auditEntries.seq));
    expect(after.slice(0, before.length)).toEqual(before);
    expect(new Set(after.map((e) => e.hash)).size).toBe(after.length);
    const names = (await p.database.db.select().from(customers)).map((c) => c.name).sort();
    expect(names).toEqual(
      [
        ...customersBefore.map((c) => c.name),
        "Asked for during the switch",
        "Written after the switch",
      ].sort(),
    );
    const created = after.filter((e) => e.action === "customer.create");
    expect(created.length).toBe(names.length);
    const refused = after.filter((e) => e.action === "vpn.connection_denied");
    expect(refused.map((e) => (e.detail as { reason: string }).reason)).toEqual([
      "access is cut: the database was lost",
    ]);
    const [session] = await p.database.db
      .select()
      .from(remoteSessions)
      .where(eq(remoteSessions.id, sessionsBefore[0]?.id ?? ""));
    expect(session?.endReason).toBe("database_lost");
    const verified = await verifyAuditChain(p.database.db);
    expect(verified.ok).toBe(true);
    if (verified.ok) expect(verified.entries).toBe(after.length);
  }, 90_000);
});
