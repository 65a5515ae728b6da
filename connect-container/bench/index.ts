// The connect agent's footprint for `bun run bench`: idle RSS of the real agent (its own network
// namespace, enrolled state absent, loops running) beside a bare Bun process in the same run; the
// read-only Modbus filter against plain DNAT (modbus.ts).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { labUnavailable, Netns, OutputLog } from "@meetpoint/lab";
import { benchModbusFilter } from "./modbus.ts";

const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 15);

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(status.match(/VmRSS:\s+(\d+) kB/)?.[1] ?? 0) / 1024;
}

async function idleRss(ns: Netns, args: string[], env: Record<string, string>, ready: string) {
  const child = ns.spawn(args, { env });
  const log = new OutputLog(child);
  const deadline = Date.now() + 30_000;
  while (!log.has(ready) && Date.now() < deadline) await Bun.sleep(100);
  if (!log.has(ready)) throw new Error(`not ready: ${log.text.slice(-500)}`);
  await Bun.sleep(IDLE_SECONDS * 1000);
  let peak = 0;
  for (let i = 0; i < 5; i++) {
    peak = Math.max(peak, rssMb(child.pid));
    await Bun.sleep(1000);
  }
  child.kill("SIGTERM");
  await child.exited;
  return peak;
}

const unavailable = labUnavailable(["nft"]);
if (unavailable) {
  console.log(`\nConnect agent idle RSS: not measured (${unavailable})`);
} else {
  const ns = Netns.create("bench-gw");
  const dir = mkdtempSync(join(tmpdir(), "meetpoint-bench-gw-"));
  try {
    // Two interfaces for WAN and LAN; a veth pair needs no kernel module beyond what the lab uses.
    ns.exec("ip", "link", "add", "wan0", "type", "veth", "peer", "name", "lan0");
    const agent = await idleRss(
      ns,
      ["bun", join(import.meta.dir, "../src/main.ts")],
      {
        MEETPOINT_DATA_DIR: dir,
        MEETPOINT_WAN_INTERFACE: "wan0",
        MEETPOINT_LAN_INTERFACE: "lan0",
        MEETPOINT_UI_HTTPS_PORT: "8443",
        MEETPOINT_UI_HTTP_PORT: "8080",
      },
      "operator UI on",
    );
    const bare = await idleRss(
      ns,
      ["bun", "-e", 'console.log("ready"); setInterval(() => {}, 1000)'],
      {},
      "ready",
    );
    console.log(
      [
        "",
        `Connect agent, idle for ${IDLE_SECONDS} s (operator UI, control loops, import watcher):`,
        `  RSS ${agent.toFixed(1)} MB   target ≤ 80 MB   ${agent <= 80 ? "MET" : "NOT MET"}`,
        `  baseline: a bare Bun process ${bare.toFixed(1)} MB (the agent adds ${(agent - bare).toFixed(1)} MB)`,
      ].join("\n"),
    );
    const file = "bench-results.json";
    const results = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
    results.connectAgent = { idleSeconds: IDLE_SECONDS, rssMb: agent, bareBunRssMb: bare };
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    ns.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

const modbus = await benchModbusFilter();
if (modbus) {
  const file = "bench-results.json";
  const results = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
  results.modbusFilter = { seconds: Number(process.env.BENCH_SECONDS ?? 5), ...modbus };
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
}
