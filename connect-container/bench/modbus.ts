// `bun run bench`, the read-only Modbus filter: Modbus/TCP reads from a client namespace through a
// gateway namespace to a PLC simulator, over plain DNAT (a full service) and through the agent's
// filter (a read-only service) in the same run, with the gateway's real ruleset. Requests per
// second over 8 connections, and per-request latency (p50, p99) over one connection.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { labUnavailable, link, Netns, OutputLog } from "@meetpoint/lab";
import { renderGatewayRuleset } from "../src/firewall/ruleset.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const HOST = join(import.meta.dir, "modbus-host.ts");
const MACHINE = "192.168.77.10";
const DNAT = "100.64.77.1";
const FILTERED = "100.64.77.2";

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
};

async function ready(ns: Netns, args: string[], line: RegExp): Promise<string> {
  const log = new OutputLog(ns.spawn(args));
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const match = log.text.match(line);
    if (match) return match[1] ?? match[0];
    await Bun.sleep(50);
  }
  throw new Error(`not ready: ${args.join(" ")}: ${log.text.slice(-500)}`);
}

interface Load {
  requests: number;
  seconds: number;
  latenciesMs: number[];
}

function load(ns: Netns, host: string, connections: number): Load {
  const out = ns.exec("bun", HOST, "load", host, String(SECONDS), String(connections));
  return JSON.parse(out.trim().split("\n").pop() ?? "{}") as Load;
}

/** Runs the comparison and returns its figures; null when the lab's tools are missing. */
export async function benchModbusFilter(): Promise<Record<string, number> | null> {
  const unavailable = labUnavailable(["nft"]);
  if (unavailable) {
    console.log(`\nRead-only Modbus filter: not measured (${unavailable})`);
    return null;
  }
  const made: Netns[] = [];
  const file = `/tmp/meetpoint-bench-modbus-${process.pid}.nft`;
  try {
    const client = Netns.create("bench-mbc");
    const gateway = Netns.create("bench-mbg");
    const plc = Netns.create("bench-mbp");
    made.push(client, gateway, plc);
    const tunnel = link(client, "198.18.177.1/30", gateway, "198.18.177.2/30");
    const lan = link(gateway, "192.168.77.1/24", plc, `${MACHINE}/24`);
    client.exec("ip", "route", "add", "100.64.0.0/10", "via", "198.18.177.2");
    gateway.exec("sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
    await ready(plc, ["bun", HOST, "plc", MACHINE], /plc ready/);
    const listenerPort = Number(
      await ready(gateway, ["bun", HOST, "filter", MACHINE], /filter port (\d+)/),
    );
    const ruleset = renderGatewayRuleset({
      lanInterface: lan.aName,
      tunnelInterface: tunnel.bName,
      services: [{ proxyAddress: DNAT, lanAddress: MACHINE, protocol: "tcp", port: 502 }],
      modbusFilters: [{ proxyAddress: FILTERED, port: 502, listenerPort }],
    });
    await Bun.write(file, ruleset);
    gateway.exec("nft", "-f", file);
    // Warm up both paths (ARP, conntrack, JIT).
    load(client, DNAT, 1);
    load(client, FILTERED, 1);
    const figures: Record<string, number> = {};
    for (const [name, host] of [
      ["dnat", DNAT],
      ["filter", FILTERED],
    ] as const) {
      const many = load(client, host, 8);
      const one = load(client, host, 1);
      figures[`${name}RequestsPerSecond`] = Math.round(many.requests / many.seconds);
      figures[`${name}P50Ms`] = percentile(one.latenciesMs, 50);
      figures[`${name}P99Ms`] = percentile(one.latenciesMs, 99);
    }
    const ms = (v: number | undefined) => `${(v ?? 0).toFixed(3)} ms`;
    const added = (p: "P50Ms" | "P99Ms") =>
      (figures[`filter${p}`] ?? 0) - (figures[`dnat${p}`] ?? 0);
    console.log(
      [
        "",
        `Read-only Modbus filter against plain DNAT (read holding registers, ${SECONDS} s each, same run):`,
        "                    plain DNAT      filter",
        `  requests/s (8 c)  ${String(figures.dnatRequestsPerSecond).padEnd(14)}  ${figures.filterRequestsPerSecond}`,
        `  latency p50 (1 c) ${ms(figures.dnatP50Ms).padEnd(14)}  ${ms(figures.filterP50Ms)}   added ${ms(added("P50Ms"))}`,
        `  latency p99 (1 c) ${ms(figures.dnatP99Ms).padEnd(14)}  ${ms(figures.filterP99Ms)}   added ${ms(added("P99Ms"))}`,
      ].join("\n"),
    );
    return figures;
  } finally {
    for (const ns of made.reverse()) ns.destroy();
    rmSync(file, { force: true });
  }
}
