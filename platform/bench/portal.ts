// Benchmark: the portal's machine list with 100,000 machines in the database — server time per
// request (page of 50 with total count, and a search), p50/p95 over repeated requests.

import { parseCidr } from "@meetpoint/common";
import { eq, sql } from "drizzle-orm";
import { type Db, users } from "../src/db/index.ts";
import { createAdmin, OidcClients } from "../src/identity/index.ts";
import { createWebSession } from "../src/identity/web-sessions.ts";
import { loadKek, Pki } from "../src/pki/index.ts";
import { createRemoteAccess, RecordingDataPlane } from "../src/sessions/index.ts";
import { systemClock } from "../src/shared/index.ts";
import { AuthFailures, createApp } from "../src/web/index.ts";
import { testDatabase } from "../test/support/database.ts";

export interface PortalFigures {
  machines: number;
  database: string;
  listP50Ms: number;
  listP95Ms: number;
  searchP50Ms: number;
  searchP95Ms: number;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/**
 * Bulk master data in SQL: 100 customers, a site each, gateways spread over them, 250 machines per
 * gateway — `machines` in all (the API benchmark uses it too).
 */
export async function fillMachines(db: Db, machines: number): Promise<void> {
  const gatewaysNeeded = Math.ceil(machines / 250);
  // Bulk master data in SQL: 100 customers, a site each, gateways spread over them, 250 machines per gateway.
  await db.execute(
    sql`insert into customers (name) select 'Customer ' || g from generate_series(1, 100) g`,
  );
  await db.execute(
    sql`insert into sites (customer_id, name) select id, 'Site of ' || name from customers`,
  );
  await db.execute(sql`
    insert into gateways (customer_id, site_id, name, secret_hash, proxy_block)
    select s.customer_id, s.id, 'Gateway ' || g, md5(g::text), g
    from generate_series(0, ${gatewaysNeeded - 1}) g
    join (select id, customer_id, row_number() over (order by id) - 1 as n from sites) s on s.n = g % 100`);
  await db.execute(sql`
    insert into machines (customer_id, gateway_id, name, lan_address, proxy_address)
    select gw.customer_id, gw.id, 'Machine ' || gw.proxy_block || '-' || m, '192.168.0.' || m,
           '100.' || (64 + gw.proxy_block / 256) || '.' || (gw.proxy_block % 256) || '.' || m
    from gateways gw cross join generate_series(1, 250) m`);
}

export async function benchPortal(options: {
  machines: number;
  requests: number;
  databaseUrl: string | null;
}): Promise<PortalFigures> {
  // A database of its own, dropped at the end: a bench never fills the server's named database.
  const database = await testDatabase({ server: options.databaseUrl ?? undefined });
  const db = database.db;
  await fillMachines(db, options.machines);
  await db.execute(sql`analyze`);

  const pool = parseCidr("100.64.0.0/10");
  if (!pool) throw new Error("pool");
  const pki = await Pki.open({
    db,
    kek: await loadKek({ hex: "33".repeat(32) }),
    clock: systemClock,
    policy: {
      technicianSeconds: 600,
      gatewaySeconds: 600,
      dataChannelSeconds: 30 * 86_400,
      clockSkewSeconds: 120,
    },
  });
  const proxyPool = { pool, blockPrefix: 24 };
  const access = createRemoteAccess({
    db,
    clock: systemClock,
    pki,
    dataPlane: new RecordingDataPlane([]),
    proxyPool,
    vpn: { host: "x", remoteSessionSeconds: 60 },
  });
  const app = createApp({
    db,
    authFailures: new AuthFailures(db, systemClock),
    clock: systemClock,
    oidc: { db, clock: systemClock, pki, clients: new OidcClients(pki, "https://x") },
    session: { idleMs: 3_600_000, absoluteMs: 3_600_000 },
    proxyPool,
    pki,
    access,
    enrollment: { platformUrl: "https://x", validMs: 1 },
  });
  await createAdmin(db, systemClock, { username: "bench", via: "bench" });
  const [user] = await db.select({ id: users.id }).from(users).where(eq(users.username, "bench"));
  if (!user) throw new Error("bench user missing");
  const token = await createWebSession(db, systemClock, {
    userId: user.id,
    stage: "ready",
    ip: "127.0.0.1",
    userAgent: "bench",
  });
  const headers = { cookie: `__Host-meetpoint=${token}`, "hx-request": "true" };

  const time = async (path: string) => {
    const started = performance.now();
    const response = await app.request(`https://localhost${path}`, { headers });
    await response.text();
    if (response.status !== 200) throw new Error(`${path} answered ${response.status}`);
    return performance.now() - started;
  };
  const list: number[] = [];
  const search: number[] = [];
  for (let i = 0; i < 5; i++) await time("/machines/rows"); // warm-up
  for (let i = 0; i < options.requests; i++) {
    list.push(await time(`/machines/rows?page=${i % 200}`));
    search.push(await time(`/machines/rows?q=Machine%20${i % 400}-1`));
  }
  await database.dispose();
  return {
    machines: options.machines,
    database: database.driver,
    listP50Ms: percentile(list, 50),
    listP95Ms: percentile(list, 95),
    searchP50Ms: percentile(search, 50),
    searchP95Ms: percentile(search, 95),
  };
}
