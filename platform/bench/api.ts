// Benchmark: the admin API's list endpoints with 100,000 machines in the database — server time
// per request through app.request() (token check, scope filter, query, JSON, and the audit entry
// every use writes), p50/p95 over repeated requests.
import { parseCidr } from "@meetpoint/common";
import { eq, sql } from "drizzle-orm";
import type { Context } from "../src/access/index.ts";
import { createApiToken } from "../src/api/index.ts";
import { users } from "../src/db/index.ts";
import { createAdmin, OidcClients } from "../src/identity/index.ts";
import { loadKek, Pki } from "../src/pki/index.ts";
import { createRemoteAccess, RecordingDataPlane } from "../src/sessions/index.ts";
import { systemClock } from "../src/shared/index.ts";
import { AuthFailures, createApp } from "../src/web/index.ts";
import { testDatabase } from "../test/support/database.ts";
import { fillMachines } from "./portal.ts";

export interface ApiFigures {
  machines: number;
  database: string;
  /** p50/p95 in ms per endpoint. */
  endpoints: { path: string; p50Ms: number; p95Ms: number }[];
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export async function benchApi(options: {
  machines: number;
  requests: number;
  databaseUrl: string | null;
}): Promise<ApiFigures> {
  // A database of its own, dropped at the end: a bench never fills the server's named database.
  const database = await testDatabase({ server: options.databaseUrl ?? undefined });
  const db = database.db;
  await fillMachines(db, options.machines);
  await db.execute(sql`analyze`);
  const pool = parseCidr("100.64.0.0/10");
  if (!pool) throw new Error("pool");
  const pki = await Pki.open({
    db,
    kek: await loadKek({ hex: "44".repeat(32) }),
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
    clock: systemClock,
    oidc: { db, clock: systemClock, pki, clients: new OidcClients(pki, "https://x") },
    session: { idleMs: 3_600_000, absoluteMs: 3_600_000 },
    authFailures: new AuthFailures(db, systemClock),
    proxyPool,
    pki,
    access,
    enrollment: { platformUrl: "https://x", validMs: 1 },
  });
  await createAdmin(db, systemClock, { username: "bench-api", via: "bench" });
  const [user] = await db
    .select({ id: users.id })
    .from(users)
    .where(eq(users.username, "bench-api"));
  const userId = user?.id ?? "";
  const ctx: Context = {
    db,
    clock: systemClock,
    caller: {
      principal: {
        userId,
        username: "bench-api",
        displayName: "bench",
        grants: [{ role: "platform_admin", customerId: null }],
      },
      actor: { id: userId, name: "bench-api", ip: null },
    },
  };
  const { token } = await createApiToken(
    ctx,
    { name: "bench", days: 1, grants: [{ role: "platform_admin", customerId: null }] },
    365,
  );
  const headers = { authorization: `Bearer ${token}` };
  const time = async (path: string) => {
    const started = performance.now();
    const response = await app.request(`https://localhost/api/v1${path}`, { headers });
    await response.text();
    if (response.status !== 200) throw new Error(`${path} answered ${response.status}`);
    return performance.now() - started;
  };
  const paths: [string, (i: number) => string][] = [
    ["/machines?limit=50&offset=…", (i) => `/machines?limit=50&offset=${(i % 200) * 50}`],
    ["/machines?q=…", (i) => `/machines?q=Machine%20${i % 400}-1&limit=50`],
    ["/gateways", () => "/gateways"],
    ["/audit?limit=100", () => "/audit?limit=100"],
  ];
  for (let i = 0; i < 5; i++) await time("/machines?limit=50"); // warm-up
  const endpoints: ApiFigures["endpoints"] = [];
  for (const [label, path] of paths) {
    const samples: number[] = [];
    for (let i = 0; i < options.requests; i++) samples.push(await time(path(i)));
    endpoints.push({ path: label, p50Ms: percentile(samples, 50), p95Ms: percentile(samples, 95) });
  }
  await database.dispose();
  return { machines: options.machines, database: database.driver, endpoints };
}
