// `bun run bench`, the lab's part: on one topology in one run — technician → machine TCP
// throughput through the full product path beside a bare two-hop OpenVPN and a routed veth path;
// operator Connect → online; config download → first byte; disconnect → last packet at the
// machine. Figures to stdout and into bench-results.json.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, labUnavailable, OutputLog } from "../src/netns.ts";
import { startLab } from "../src/topology.ts";
import { bareOpenvpnPath, vethPath } from "./baselines.ts";
import { iperf } from "./iperf.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const TRIES = Number(process.env.BENCH_CONNECT_TRIES ?? 20);

const missing = labUnavailable([
  "openvpn",
  "nft",
  "conntrack",
  "dnsmasq",
  "chronyd",
  "dropbear",
  "iperf3",
]);
if (missing) {
  console.log(`\nLab benchmarks: not measured (${missing})`);
  process.exit(0);
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
};
const mbit = (bps: number) => `${(bps / 1e6).toFixed(0)} Mbit/s`;

const lab = await startLab({ log: () => {} });
const results: Record<string, unknown> = {};
try {
  const [site] = lab.sites;
  await lab.admin.createService(site.machineId, {
    name: "iperf3",
    protocol: "tcp",
    port: 5201,
    enabled: true,
  });
  await lab.admin.createService(site.machineId, {
    name: "stream sink",
    protocol: "tcp",
    port: 9000,
    enabled: true,
  });
  writeFileSync(join(lab.dir, "gateway-acme", "import", "bundle.jws"), site.bundle);
  await eventually(async () => site.agent.log.has(`gateway ${site.gatewayId}, version`), 10_000);
  const state = async () => (await site.local("GET", "/state")).body.state;
  const tina = await lab.technician("tina");

  // Operator Connect → online.
  const connects: number[] = [];
  for (let i = 0; i < TRIES; i++) {
    await site.local("POST", "/disconnect");
    const started = performance.now();
    await site.local("POST", "/connect");
    await eventually(async () => (await state()) === "online", 20_000, 10);
    connects.push(performance.now() - started);
  }
  results.operatorConnectToOnlineMs = {
    p50: percentile(connects, 50),
    p99: percentile(connects, 99),
    tries: TRIES,
  };

  const armed = async () => {
    // Always pressed: never lost to a close in flight, a no-op when truly online.
    await site.local("POST", "/connect");
    await eventually(async () => (await state()) === "online", 20_000, 20);
  };
  const web = () => lab.fetchFromTechnician(`http://${site.proxyAddress}/`, 1000) !== null;

  // Config download → first byte at the machine's web UI (technician's side of the clock).
  const firstBytes: number[] = [];
  for (let i = 0; i < 5; i++) {
    await armed();
    const started = performance.now();
    const profile = await tina.connect(site.machineId, `bench ${i}`);
    const vpn = await lab.openvpn(profile);
    await eventually(async () => web(), 10_000, 20);
    firstBytes.push(performance.now() - started);
    await vpn.stop();
    await eventually(async () => (await state()) === "idle", 10_000, 50);
  }
  results.configDownloadToFirstByteMs = {
    p50: percentile(firstBytes, 50),
    max: Math.max(...firstBytes),
  };

  // Throughput: the product path and the bare OpenVPN in turns, on the same busy host (the lab's
  // platform and agents keep running), three rounds; medians. The veth ceiling once.
  const bare = await bareOpenvpnPath();
  const ceiling = await vethPath();
  const productRuns: number[] = [];
  const bareRuns: number[] = [];
  try {
    for (let round = 0; round < 3; round++) {
      await armed();
      const tunnel = await lab.openvpn(
        await tina.connect(site.machineId, `bench throughput ${round}`),
      );
      productRuns.push(
        await iperf(site.machineNs, "192.168.0.10", lab.technicianNs, SECONDS, site.proxyAddress),
      );
      await tunnel.stop();
      await eventually(async () => (await state()) === "idle", 10_000, 50);
      bareRuns.push(await bare.measure(SECONDS));
    }
    results.throughputBitsPerSecond = {
      product: percentile(productRuns, 50),
      bareOpenvpn: percentile(bareRuns, 50),
      veth: await ceiling.measure(SECONDS),
      productRuns,
      bareRuns,
    };
  } finally {
    bare.stop();
    ceiling.stop();
  }

  // Disconnect → the last packet that reaches the machine: a stream of small writes every 2 ms,
  // the machine's sink noting when the last one arrived (one host, one clock).
  const lastPacket: Record<string, number[]> = { operator: [], technician: [], admin: [] };
  for (const how of ["operator", "technician", "admin"] as const) {
    for (let i = 0; i < 3; i++) {
      await armed();
      const vpn = await lab.openvpn(await tina.connect(site.machineId, `bench ${how} ${i}`));
      const sink = site.machineNs.spawn([
        "bun",
        "-e",
        `require("node:net").createServer((s) => s.on("data", () => { last = performance.timeOrigin + performance.now(); })).listen(9000, "192.168.0.10"); let last = 0; setInterval(() => console.log("last " + last), 5);`,
      ]);
      const sinkLog = new OutputLog(sink);
      await eventually(async () => sinkLog.has("last"), 5000);
      const source = lab.technicianNs.spawn([
        "bun",
        "-e",
        `const s = require("node:net").connect(9000, ${JSON.stringify(site.proxyAddress)}); s.on("error", () => {}); setInterval(() => s.write("x"), 2);`,
      ]);
      await eventually(async () => /last [1-9]/.test(sinkLog.text), 10_000, 20);
      await Bun.sleep(300);
      const cut = performance.timeOrigin + performance.now();
      if (how === "operator") await site.local("POST", "/disconnect");
      else if (how === "technician") await tina.disconnectNewestSession();
      else await lab.admin.disconnectNewestSession();
      await Bun.sleep(2000);
      const values = [...sinkLog.text.matchAll(/last (\d+(?:\.\d+)?)/g)].map((m) => Number(m[1]));
      lastPacket[how]?.push(Math.max(0, (values.at(-1) ?? cut) - cut));
      source.kill();
      sink.kill();
      await vpn.stop();
      await eventually(async () => (await state()) === "idle", 10_000, 50);
    }
  }
  results.disconnectToLastPacketMs = Object.fromEntries(
    Object.entries(lastPacket).map(([k, v]) => [
      k,
      { max: Math.max(...v), samples: v.map((x) => Math.round(x)) },
    ]),
  );

  await lab.stop();
  const t = results.throughputBitsPerSecond as {
    product: number;
    bareOpenvpn: number;
    veth: number;
  };
  const product = t.product;
  const bareBps = t.bareOpenvpn;
  const veth = t.veth;
  (results.throughputBitsPerSecond as Record<string, number>).productToBare = product / bareBps;

  const c = results.operatorConnectToOnlineMs as { p50: number; p99: number };
  const f = results.configDownloadToFirstByteMs as { p50: number; max: number };
  const d = results.disconnectToLastPacketMs as Record<string, { max: number }>;
  const worst = Math.max(...Object.values(d).map((x) => x.max));
  console.log(
    [
      "",
      `Lab, one topology, one run (${SECONDS} s per throughput test):`,
      `  technician → machine TCP (median of 3, alternating): product ${mbit(product)}, bare two-hop OpenVPN ${mbit(bareBps)}, routed veth ${mbit(veth)}`,
      `    product / bare = ${(product / bareBps).toFixed(2)}   target ≥ 0.90   ${product / bareBps >= 0.9 ? "MET" : "NOT MET"}`,
      `  operator Connect → gateway online (${TRIES} tries): p50 ${(c.p50 / 1000).toFixed(2)} s, p99 ${(c.p99 / 1000).toFixed(2)} s   target p50 ≤ 2 s, p99 ≤ 5 s   ${c.p50 <= 2000 && c.p99 <= 5000 ? "MET" : "NOT MET"}`,
      `  config download → first byte at the machine: p50 ${(f.p50 / 1000).toFixed(2)} s, max ${(f.max / 1000).toFixed(2)} s   target ≤ 3 s   ${f.max <= 3000 ? "MET" : "NOT MET"}`,
      `  disconnect → last packet at the machine (max of 3): operator ${d.operator?.max.toFixed(0)} ms, technician ${d.technician?.max.toFixed(0)} ms, admin ${d.admin?.max.toFixed(0)} ms   target ≤ 1 s   ${worst <= 1000 ? "MET" : "NOT MET"}`,
    ].join("\n"),
  );
  const file = "bench-results.json";
  const all = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
  all.lab = results;
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
} catch (error) {
  await lab.stop().catch(() => {});
  throw error;
}
