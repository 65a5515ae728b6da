// Benchmark: the control plane under N gateways. The platform runs in this process exactly as
// main.ts runs it (platform.ts; data plane off: no OpenVPN), on PGlite or PostgreSQL, with N
// gateways in its database; load processes (simulated-gateways.ts, at most GATEWAYS_PER_PROCESS
// each: two sockets per gateway against the open-files limit) speak the agent's protocol over real
// HTTPS; commands are enqueued at a steady rate through the platform's own GatewayCommands.send();
// a prober process times /healthz and a signed-in portal page meanwhile.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { readConfig } from "../src/config.ts";
import { users } from "../src/db/index.ts";
import { createWebSession } from "../src/identity/web-sessions.ts";
import { startPlatform } from "../src/platform.ts";
import { systemClock } from "../src/shared/index.ts";
import { testDatabase } from "../test/support/database.ts";
import type { GatewayFigures, GatewayJob, PortalFigures, PortalJob } from "./simulated-gateways.ts";

/**
 * Gateways per load process (BENCH_GATEWAYS_PER_PROCESS): two sockets each, under the 20,000 open
 * files a process may hold.
 */
const GATEWAYS_PER_PROCESS = Math.min(9000, Number(process.env.BENCH_GATEWAYS_PER_PROCESS ?? 9000));

export interface ControlPlaneFigures {
  gateways: number;
  database: string;
  loadProcesses: number;
  /** Seconds until every gateway had its first heartbeat answered (null: not all did). */
  rampSeconds: number | null;
  steadySeconds: number;
  heartbeats: { count: number; p50Ms: number; p99Ms: number; maxMs: number };
  /**
   * Heartbeats sent after the ramp (once every gateway had its first heartbeat answered; else
   * from one interval + 2 s): first contacts, TLS handshakes and enrollment audits left out.
   */
  steadyHeartbeats: { count: number; p50Ms: number; p99Ms: number; maxMs: number };
  commands: { sent: number; received: number; p50Ms: number; p99Ms: number; maxMs: number };
  errors: Record<string, number>;
  reconnects: number;
  platformRssMaxMb: number;
  /** Platform CPU during the steady state, in % of one core. */
  platformCpuPercent: number;
  /**
   * The reconnect flood after the steady state: every connection of every gateway reset at once
   * (as when another instance dies and its gateways come to this one), then heartbeatMs + 10 s.
   */
  flood: {
    /** Gateways whose heartbeat was answered again, of all. */
    recovered: number;
    /** ms from the reset to each gateway's first answered heartbeat. */
    recoveredP50Ms: number;
    recoveredP99Ms: number;
    recoveredMaxMs: number;
    /** Heartbeats sent after the reset: latency. */
    heartbeats: { count: number; p50Ms: number; p99Ms: number; maxMs: number };
    /** Commands enqueued after the reset: enqueue → received. */
    commands: { sent: number; received: number; p50Ms: number; p99Ms: number; maxMs: number };
    /** Errors after the reset, the resets themselves (ECONNRESET of the open long-polls) included. */
    errors: Record<string, number>;
    /** Platform RSS max during the flood. */
    platformRssMaxMb: number;
  };
  healthz: { p50Ms: number; p95Ms: number; errors: number };
  portalPage: { path: string; p50Ms: number; p95Ms: number; errors: number };
  databaseGrowthMbPerMinute: number;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const errorsOf = (f: PortalFigures, which: (key: string) => boolean) =>
  Object.entries(f.errors).reduce((n, [k, v]) => n + (which(k) ? v : 0), 0);

/** Rows of db.execute() on either driver (postgres.js answers an array, PGlite { rows }). */
async function select<T>(result: Promise<unknown>): Promise<T[]> {
  const r = await result;
  return (Array.isArray(r) ? r : (r as { rows: unknown[] }).rows) as T[];
}

function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

function directoryBytes(path: string): number {
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  return total;
}

/** Starts a load process on `job`; `finish()` stops it and resolves to its figures. */
function loadProcess<T>(dir: string, name: string, job: GatewayJob | PortalJob) {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(job));
  const child = Bun.spawn(["bun", join(import.meta.dir, "simulated-gateways.ts"), file], {
    stdout: "pipe",
    stderr: "inherit",
  });
  return {
    flood: () => child.kill("SIGUSR1"),
    async finish(): Promise<T> {
      child.kill("SIGTERM");
      const out = await new Response(child.stdout).text();
      await child.exited;
      return JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as T;
    },
  };
}

export async function benchControlPlane(options: {
  gateways: number;
  /** Seconds of steady state after the ramp. */
  seconds: number;
  commandsPerSecond: number;
  databaseUrl: string | null;
  heartbeatMs?: number;
}): Promise<ControlPlaneFigures> {
  const heartbeatMs = options.heartbeatMs ?? 10_000;
  const dir = mkdtempSync(join(tmpdir(), "meetpoint-bench-control-"));
  mkdirSync(join(dir, "data"), { mode: 0o700 });
  const port = freePort();
  // On PostgreSQL a database of its own, dropped at the end: N gateways never land in the server's
  // named database.
  const scratch = options.databaseUrl ? await testDatabase({ server: options.databaseUrl }) : null;
  const config = readConfig({
    MEETPOINT_DATA_DIR: join(dir, "data"),
    MEETPOINT_KEK: "55".repeat(32),
    MEETPOINT_HTTPS_PORT: String(port),
    MEETPOINT_HTTP_PORT: "0",
    MEETPOINT_LISTEN_ADDRESS: "127.0.0.1",
    MEETPOINT_PUBLIC_URL: `https://127.0.0.1:${port}`,
    MEETPOINT_VPN_LISTEN: "off",
    MEETPOINT_PROXY_POOL: "100.64.0.0/10",
    MEETPOINT_GATEWAY_BLOCK_PREFIX: "28",
    DATABASE_URL: scratch?.url ?? "",
  });
  const quiet = console.log;
  console.log = () => {};
  const platform = await startPlatform(config).finally(() => {
    console.log = quiet;
  });
  const { db } = platform;
  try {
    // N gateways of 20 customers, two machines each, with secrets the load processes know.
    await db.execute(
      sql`insert into customers (name) select 'Customer ' || g from generate_series(1, 20) g`,
    );
    await db.execute(
      sql`insert into sites (customer_id, name) select id, 'Site of ' || name from customers`,
    );
    await db.execute(sql`
      insert into gateways (customer_id, site_id, name, secret_hash, proxy_block)
      select s.customer_id, s.id, 'Gateway ' || g, encode(sha256(convert_to('bench-secret-' || g, 'UTF8')), 'hex'), g
      from generate_series(0, ${options.gateways - 1}) g
      join (select id, customer_id, row_number() over (order by id) - 1 as n from sites) s on s.n = g % 20`);
    await db.execute(sql`
      insert into machines (customer_id, gateway_id, name, lan_address, proxy_address)
      select gw.customer_id, gw.id, 'Machine ' || gw.proxy_block || '-' || m, '192.168.0.' || m,
             '100.' || (64 + gw.proxy_block / 4096) || '.' || (gw.proxy_block / 16 % 256) || '.' || (gw.proxy_block % 16 * 16 + m)
      from gateways gw cross join generate_series(1, 2) m`);
    await db.execute(sql`analyze`);
    const rows = await select<{ id: string; proxy_block: number }>(
      db.execute(sql`select id, proxy_block from gateways order by proxy_block`),
    );
    const all = rows.map((r) => ({ id: r.id, secret: `bench-secret-${r.proxy_block}` }));

    const [admin] = await db.select({ id: users.id }).from(users).limit(1);
    if (!admin) throw new Error("the platform made no admin");
    const token = await createWebSession(db, systemClock, {
      userId: admin.id,
      stage: "ready",
      ip: "127.0.0.1",
      userAgent: "bench",
    });

    const processes = Math.ceil(all.length / GATEWAYS_PER_PROCESS);
    const loads = Array.from({ length: processes }, (_, i) =>
      loadProcess<GatewayFigures>(dir, `gateways-${i}`, {
        role: "gateways",
        port,
        heartbeatMs,
        gateways: all.slice(i * GATEWAYS_PER_PROCESS, (i + 1) * GATEWAYS_PER_PROCESS),
      }),
    );
    // The ramp: every gateway's first beat falls in the first interval; then the steady state.
    let rssMax = 0;
    const rssTimer = setInterval(() => {
      rssMax = Math.max(rssMax, process.memoryUsage().rss);
    }, 1000);
    await Bun.sleep(heartbeatMs + 2000);
    const prober = loadProcess<PortalFigures>(dir, "portal", {
      role: "portal",
      port,
      cookie: `__Host-meetpoint=${token}`,
      page: "/machines",
    });
    const sizeOf = async () =>
      options.databaseUrl
        ? Number(
            (
              await select<{ n: string }>(
                db.execute(sql`select pg_database_size(current_database()) as n`),
              )
            )[0]?.n,
          )
        : directoryBytes(join(dir, "data"));
    const sizeBefore = await sizeOf();
    const cpuBefore = process.cpuUsage();
    const steadyStart = performance.now();
    let sent = 0;
    const commandTimer = setInterval(() => {
      const gateway = all[Math.floor(Math.random() * all.length)];
      if (!gateway) return;
      sent++;
      void platform.access.commands.send(gateway.id, {
        command: "refresh",
        reason: `bench ${Date.now()}`,
        gatewaySessionId: null,
      });
    }, 1000 / options.commandsPerSecond);
    await Bun.sleep(options.seconds * 1000);
    const steadyMs = performance.now() - steadyStart;
    const cpu = process.cpuUsage(cpuBefore);
    const sizeAfter = await sizeOf();
    // The reconnect flood: every connection reset at once, commands still flowing.
    const steadyRssMax = rssMax;
    rssMax = 0;
    const floodAt = Date.now();
    const sentBeforeFlood = sent;
    for (const load of loads) load.flood();
    await Bun.sleep(heartbeatMs + 10_000);
    clearInterval(commandTimer);
    // Commands still on their way are waited for, then everything stops.
    await Bun.sleep(2000);
    const portal = await prober.finish();
    const figures = await Promise.all(loads.map((l) => l.finish()));
    clearInterval(rssTimer);
    // Requests the load processes left behind finish before the platform stops.
    await Bun.sleep(1000);

    const beats = figures.flatMap((f) =>
      f.heartbeatsMs.filter((_, i) => (f.heartbeatsSentMs[i] ?? 0) < (f.floodAtMs ?? Infinity)),
    );
    const floodBeats = figures.flatMap((f) =>
      f.heartbeatsMs.filter((_, i) => (f.heartbeatsSentMs[i] ?? 0) >= (f.floodAtMs ?? Infinity)),
    );
    const recoveredBeats = figures.flatMap((f) => f.recoveredBeatMs);
    const floodCommands = figures.flatMap((f) =>
      f.commandsMs.filter((_, i) => (f.commandsAt[i] ?? 0) >= floodAt),
    );
    const floodErrors: Record<string, number> = {};
    for (const f of figures)
      for (const [k, v] of Object.entries(f.floodErrors))
        floodErrors[k] = (floodErrors[k] ?? 0) + v;
    // The ramp ends when the last gateway's first heartbeat was answered (else after one interval).
    const firstBeatsAll = figures.flatMap((f) => f.firstBeatMs);
    const rampEndMs =
      firstBeatsAll.length === all.length ? Math.max(...firstBeatsAll) : heartbeatMs + 2000;
    const steadyBeats = figures.flatMap((f) =>
      f.heartbeatsMs.filter((_, i) => {
        const at = f.heartbeatsSentMs[i] ?? 0;
        return at >= rampEndMs && at < (f.floodAtMs ?? Infinity);
      }),
    );
    const commands = figures.flatMap((f) =>
      f.commandsMs.filter((_, i) => (f.commandsAt[i] ?? 0) < floodAt),
    );
    const firstBeats = figures.flatMap((f) => f.firstBeatMs);
    const errors: Record<string, number> = {};
    for (const f of figures)
      for (const [k, v] of Object.entries(f.errors)) errors[k] = (errors[k] ?? 0) + v;
    return {
      gateways: all.length,
      database: options.databaseUrl ? "PostgreSQL" : "PGlite",
      loadProcesses: processes,
      rampSeconds: firstBeats.length === all.length ? Math.max(...firstBeats) / 1000 : null,
      steadySeconds: steadyMs / 1000,
      heartbeats: {
        count: beats.length,
        p50Ms: percentile(beats, 50),
        p99Ms: percentile(beats, 99),
        maxMs: Math.max(0, ...beats),
      },
      steadyHeartbeats: {
        count: steadyBeats.length,
        p50Ms: percentile(steadyBeats, 50),
        p99Ms: percentile(steadyBeats, 99),
        maxMs: Math.max(0, ...steadyBeats),
      },
      commands: {
        sent: sentBeforeFlood,
        received: commands.length,
        p50Ms: percentile(commands, 50),
        p99Ms: percentile(commands, 99),
        maxMs: Math.max(0, ...commands),
      },
      errors,
      reconnects: figures.reduce((n, f) => n + f.reconnects, 0),
      platformRssMaxMb: steadyRssMax / 2 ** 20,
      flood: {
        recovered: recoveredBeats.length,
        recoveredP50Ms: percentile(recoveredBeats, 50),
        recoveredP99Ms: percentile(recoveredBeats, 99),
        recoveredMaxMs: Math.max(0, ...recoveredBeats),
        heartbeats: {
          count: floodBeats.length,
          p50Ms: percentile(floodBeats, 50),
          p99Ms: percentile(floodBeats, 99),
          maxMs: Math.max(0, ...floodBeats),
        },
        commands: {
          sent: sent - sentBeforeFlood,
          received: floodCommands.length,
          p50Ms: percentile(floodCommands, 50),
          p99Ms: percentile(floodCommands, 99),
          maxMs: Math.max(0, ...floodCommands),
        },
        errors: floodErrors,
        platformRssMaxMb: rssMax / 2 ** 20,
      },
      platformCpuPercent: ((cpu.user + cpu.system) / 1000 / steadyMs) * 100,
      healthz: {
        p50Ms: percentile(portal.healthzMs, 50),
        p95Ms: percentile(portal.healthzMs, 95),
        errors: errorsOf(portal, (k) => k.includes("/healthz")),
      },
      portalPage: {
        path: "/machines",
        p50Ms: percentile(portal.pageMs, 50),
        p95Ms: percentile(portal.pageMs, 95),
        errors: errorsOf(portal, (k) => !k.includes("/healthz")),
      },
      databaseGrowthMbPerMinute: ((sizeAfter - sizeBefore) / 2 ** 20 / steadyMs) * 60_000,
    };
  } finally {
    console.log = () => {};
    await platform.stop().finally(() => {
      console.log = quiet;
    });
    await scratch?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const figures = await benchControlPlane({
    gateways: Number(process.env.BENCH_GATEWAYS ?? 1000),
    seconds: Number(process.env.BENCH_SECONDS ?? 30),
    commandsPerSecond: 10,
    databaseUrl: process.env.DATABASE_URL || null,
  });
  console.log(JSON.stringify(figures, null, 2));
}
