// `bun run bench`: prints each figure beside its target (DESIGN §10) and the same-run baseline,
// and writes them to bench-results.json. Not a timed test: nothing here fails on a slow machine.
import { writeFileSync } from "node:fs";
import { benchApi } from "./api.ts";
import { benchControlPlane } from "./control-plane.ts";
import { benchPki } from "./pki.ts";
import { benchPortal } from "./portal.ts";
import { benchSiem } from "./siem.ts";

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const results: Record<string, unknown> = {
  at: new Date().toISOString(),
  host: { cores: navigator.hardwareConcurrency },
};

const pki = await benchPki({ seconds, databaseUrl: process.env.DATABASE_URL || null });
results.pki = pki;
const ratio = pki.opensslEcdsaP256SignsPerSecond
  ? pki.configsPerSecond / pki.opensslEcdsaP256SignsPerSecond
  : null;
console.log(
  [
    "One-time connection configs (key pair + certificate + database record + .ovpn), one process:",
    `  ${pki.configsPerSecond.toFixed(0)} configs/s on ${pki.database}   target ≥ 1000/s per core   ${pki.configsPerSecond >= 1000 ? "MET" : "NOT MET"}`,
    `  baseline: openssl speed ecdsap256 ${pki.opensslEcdsaP256SignsPerSecond?.toFixed(0) ?? "n/a"} signs/s` +
      (ratio
        ? ` (configs/s = ${(ratio * 100).toFixed(1)} % of raw signs/s; a config costs one key generation and one signature)`
        : ""),
  ].join("\n"),
);

const portal = await benchPortal({
  machines: 100_000,
  requests: Number(process.env.BENCH_REQUESTS ?? 100),
  databaseUrl: process.env.DATABASE_URL || null,
});
results.portal = portal;
console.log(
  [
    "",
    `Portal machine list, ${portal.machines.toLocaleString("en")} machines in ${portal.database} (server time per request):`,
    `  page of 50 with total: p50 ${portal.listP50Ms.toFixed(1)} ms, p95 ${portal.listP95Ms.toFixed(1)} ms   target p95 ≤ 50 ms   ${portal.listP95Ms <= 50 ? "MET" : "NOT MET"}`,
    `  search:                p50 ${portal.searchP50Ms.toFixed(1)} ms, p95 ${portal.searchP95Ms.toFixed(1)} ms   target p95 ≤ 50 ms   ${portal.searchP95Ms <= 50 ? "MET" : "NOT MET"}`,
  ].join("\n"),
);

const siem = await benchSiem({
  entries: Number(process.env.BENCH_SIEM_ENTRIES ?? 50_000),
  outageEntries: Number(process.env.BENCH_SIEM_OUTAGE_ENTRIES ?? 20_000),
  databaseUrl: process.env.DATABASE_URL || null,
});
results.siem = siem;
console.log(
  "skipped" in siem
    ? `\nAudit entries to syslog: skipped (${siem.skipped})`
    : [
        "",
        `Audit entries to a real rsyslog over TLS (RFC 5425), ${siem.database}:`,
        `  ${siem.entries.toLocaleString("en")} entries at ${siem.entriesPerSecond.toFixed(0)} entries/s   target ≥ 5000/s   ${siem.entriesPerSecond >= 5000 ? "MET" : "NOT MET"}`,
        `  collector stopped while ${siem.outage.entries.toLocaleString("en")} entries came: caught up in ${siem.outage.catchUpSeconds.toFixed(1)} s after its restart (${siem.outage.entriesPerSecond.toFixed(0)} entries/s)`,
        `  lost: ${siem.lost}, sent again after the collector's restart: ${siem.repeated}`,
      ].join("\n"),
);

const api = await benchApi({
  machines: 100_000,
  requests: Number(process.env.BENCH_REQUESTS ?? 100),
  databaseUrl: process.env.DATABASE_URL || null,
});
results.api = api;
console.log(
  [
    "",
    `Admin API with a token, ${api.machines.toLocaleString("en")} machines in ${api.database} (server time per request, the audit entry of each use included):`,
    ...api.endpoints.map(
      (e) =>
        `  GET /api/v1${e.path.padEnd(28)} p50 ${e.p50Ms.toFixed(1)} ms, p95 ${e.p95Ms.toFixed(1)} ms   target p95 ≤ 50 ms   ${e.p95Ms <= 50 ? "MET" : "NOT MET"}`,
    ),
  ].join("\n"),
);

const gateways = Number(process.env.BENCH_GATEWAYS ?? 1000);
const control = await benchControlPlane({
  gateways,
  seconds: Number(process.env.BENCH_CONTROL_SECONDS ?? 60),
  commandsPerSecond: 10,
  databaseUrl: process.env.DATABASE_URL || null,
});
results.controlPlane = control;
const met = (ok: boolean) => (ok ? "MET" : "NOT MET");
const ms = (v: number) => `${v.toFixed(0)} ms`;
console.log(
  [
    "",
    `Control plane, ${control.gateways.toLocaleString("en")} simulated gateways on ${control.database} (real HTTPS, 2 keep-alive connections each, heartbeat 10 s ± 10 %, one long-poll each; ${control.loadProcesses} load process(es) sharing the cores; BENCH_GATEWAYS picks N):`,
    `  ramp: every gateway answered within ${control.rampSeconds === null ? "— (not all did)" : `${control.rampSeconds.toFixed(1)} s`}; then ${control.steadySeconds.toFixed(0)} s steady`,
    `  heartbeat (${control.heartbeats.count.toLocaleString("en")}): p50 ${ms(control.heartbeats.p50Ms)}, p99 ${ms(control.heartbeats.p99Ms)}, max ${ms(control.heartbeats.maxMs)}   target p99 ≤ 1 s   ${met(control.heartbeats.p99Ms <= 1000)}`,
    `  heartbeat in the steady state only (${control.steadyHeartbeats.count.toLocaleString("en")}): p50 ${ms(control.steadyHeartbeats.p50Ms)}, p99 ${ms(control.steadyHeartbeats.p99Ms)}, max ${ms(control.steadyHeartbeats.maxMs)}`,
    `  command enqueue → received (${control.commands.received}/${control.commands.sent}): p50 ${ms(control.commands.p50Ms)}, p99 ${ms(control.commands.p99Ms)}, max ${ms(control.commands.maxMs)}   target p99 ≤ 1 s   ${met(control.commands.p99Ms <= 1000 && control.commands.received === control.commands.sent)}`,
    `  errors: ${Object.values(control.errors).reduce((a, b) => a + b, 0)} ${JSON.stringify(control.errors)}, reconnects ${control.reconnects}   target none   ${met(Object.keys(control.errors).length === 0)}`,
    `  platform RSS max ${control.platformRssMaxMb.toFixed(0)} MB   target ≤ 1024 MB   ${met(control.platformRssMaxMb <= 1024)}; CPU ${control.platformCpuPercent.toFixed(0)} % of a core`,
    `  reconnect flood (every connection reset at once, as when another instance dies and its gateways come here): ${control.flood.recovered.toLocaleString("en")}/${control.gateways.toLocaleString("en")} heartbeating again, p50 ${ms(control.flood.recoveredP50Ms)}, p99 ${ms(control.flood.recoveredP99Ms)}, max ${ms(control.flood.recoveredMaxMs)} after the reset`,
    `    heartbeats after the reset (${control.flood.heartbeats.count.toLocaleString("en")}): p50 ${ms(control.flood.heartbeats.p50Ms)}, p99 ${ms(control.flood.heartbeats.p99Ms)}   target p99 ≤ 1 s   ${met(control.flood.heartbeats.p99Ms <= 1000)}; commands (${control.flood.commands.received}/${control.flood.commands.sent}): p99 ${ms(control.flood.commands.p99Ms)}, max ${ms(control.flood.commands.maxMs)}; RSS max ${control.flood.platformRssMaxMb.toFixed(0)} MB`,
    `    errors after the reset: ${JSON.stringify(control.flood.errors)} (the reset long-polls themselves count)`,
    `  portal while loaded: /healthz p95 ${ms(control.healthz.p95Ms)}, ${control.portalPage.path} p95 ${ms(control.portalPage.p95Ms)} (errors ${control.healthz.errors + control.portalPage.errors})   target p95 ≤ 100 ms   ${met(control.portalPage.p95Ms <= 100 && control.healthz.p95Ms <= 100)}`,
    `  database growth ${control.databaseGrowthMbPerMinute.toFixed(2)} MB/min`,
    `  gateways target: 20,000 per process   ${met(control.gateways >= 20_000 && control.heartbeats.p99Ms <= 1000 && Object.keys(control.errors).length === 0)}`,
  ].join("\n"),
);

writeFileSync("bench-results.json", `${JSON.stringify(results, null, 2)}\n`);
console.log("\nFigures written to bench-results.json");
