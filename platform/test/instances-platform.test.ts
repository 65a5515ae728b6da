// Two whole platforms over one PostgreSQL, started as main.ts starts them: both register, a second
// one with an overlapping tunnel pool is refused with the reason, a command sent through one
// reaches a long-poll on the other, and a clean stop leaves the registry as stopped.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asc } from "drizzle-orm";
import { readConfig } from "../src/config.ts";
import { platformInstances } from "../src/db/index.ts";
import { type RunningPlatform, StartRefused, startPlatform } from "../src/platform.ts";
import { type TestDatabase, testDatabase } from "./support/database.ts";

const postgres = Boolean(process.env.DATABASE_URL);
const dirs: string[] = [];
const running: RunningPlatform[] = [];
let database: TestDatabase;

function start(id: string, pool: string): Promise<RunningPlatform> {
  const dataDir = mkdtempSync(join(tmpdir(), `meetpoint-${id}-`));
  dirs.push(dataDir);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  return startPlatform(
    readConfig({
      DATABASE_URL: database.url ?? "",
      MEETPOINT_DATA_DIR: dataDir,
      // One CA for all instances: sealed with the same key-encryption key.
      MEETPOINT_KEK: "22".repeat(32),
      MEETPOINT_HTTPS_PORT: String(port),
      MEETPOINT_HTTP_PORT: "0",
      MEETPOINT_LISTEN_ADDRESS: "127.0.0.1",
      MEETPOINT_VPN_LISTEN: "off",
      MEETPOINT_VPN_HOST: `vpn-${id}.lab.test`,
      MEETPOINT_TUNNEL_POOL: pool,
      MEETPOINT_INSTANCE_ID: id,
    }),
  );
}

// Several instances need PostgreSQL (PGlite is single-instance: instances.test.ts shows the
// refusal); CI runs this file with DATABASE_URL.
describe.skipIf(!postgres)("two platform instances over one PostgreSQL", () => {
  beforeAll(async () => {
    database = await testDatabase();
  });
  afterAll(async () => {
    for (const platform of running) await platform.stop().catch(() => {});
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    await database?.dispose();
  });

  test("both register; an overlapping tunnel pool is refused; a command crosses instances; a clean stop is recorded", async () => {
    const alpha = await start("alpha", "100.126.0.0/16");
    running.push(alpha);
    const refused = await start("beta", "100.126.64.0/18").catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(StartRefused);
    expect((refused as Error).message).toBe(
      "instance beta: MEETPOINT_TUNNEL_POOL 100.126.64.0/18 overlaps 100.126.0.0/16 of the live instance alpha (" +
        (await database.db.select().from(platformInstances))[0]?.host +
        "): give each instance its own slice of the tunnel pool",
    );
    const beta = await start("beta", "100.127.0.0/16");
    running.push(beta);
    const rows = await database.db
      .select()
      .from(platformInstances)
      .orderBy(asc(platformInstances.id));
    expect(rows.map((r) => [r.id, r.tunnelPool, r.vpnHost, r.stoppedAt])).toEqual([
      ["alpha", "100.126.0.0/16", "vpn-alpha.lab.test", null],
      ["beta", "100.127.0.0/16", "vpn-beta.lab.test", null],
    ]);

    // A gateway long-polls instance beta; the portal on alpha sends it a command.
    const gatewayId = crypto.randomUUID();
    const first = await beta.access.commands.next(gatewayId, 0, 0);
    const started = performance.now();
    const waiting = beta.access.commands.next(gatewayId, first.cursor, 20_000);
    await alpha.access.commands.send(gatewayId, {
      command: "refresh",
      reason: "test",
      gatewaySessionId: null,
    });
    expect((await waiting).commands).toHaveLength(1);
    expect(performance.now() - started).toBeLessThan(1000);

    await alpha.stop();
    running.shift();
    const [stopped] = await database.db
      .select()
      .from(platformInstances)
      .orderBy(asc(platformInstances.id));
    expect(stopped?.stoppedAt).not.toBeNull();
  }, 60_000);
});
