// `bun run bench`: prints each figure beside its target (DESIGN §10) and the same-run baseline,
// and writes them to bench-results.json. Not a timed test: nothing here fails on a slow machine.
import { writeFileSync } from "node:fs";
import { benchPki } from "./pki.ts";
import { benchPortal } from "./portal.ts";

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

writeFileSync("bench-results.json", `${JSON.stringify(results, null, 2)}\n`);
console.log("\nFigures written to bench-results.json");
