// `bun run bench`, the jump workspace's part, against the local dockerd: container start → Xvnc
// answering the RFB handshake (the image warm, N starts, p50 and p99), and the idle memory of a
// running workspace (desktop, terminal and supervisor; no browser window open) from Docker's
// stats. Figures to stdout and into bench-results.json. Needs root, dockerd, workspace/image.sh.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { resolve } from "node:path";
import { waitFor } from "@meetpoint/common";
import Docker from "dockerode";
import { startWorkspace } from "../src/runtime.ts";

const STARTS = Number(process.env.BENCH_WORKSPACE_STARTS ?? 5);
const IDLE_SECONDS = Number(process.env.BENCH_WORKSPACE_IDLE_SECONDS ?? 15);
const docker = new Docker();

if (
  process.getuid?.() !== 0 ||
  !(await docker.ping().then(
    () => true,
    () => false,
  ))
) {
  console.log("\nWorkspace benchmarks: not measured (needs root and a running dockerd)");
  process.exit(0);
}

const repo = resolve(import.meta.dir, "../..");
const tagFile = `/tmp/meetpoint-workspace-bench-${process.pid}`;
const build = Bun.spawnSync(["bash", "workspace/image.sh"], {
  cwd: repo,
  env: { ...process.env, MEETPOINT_WORKSPACE_IMAGE_FILE: tagFile },
  stderr: "inherit",
});
if (build.exitCode !== 0) throw new Error("workspace/image.sh failed");
const image = (await Bun.file(tagFile).text()).trim();
await Bun.file(tagFile).delete();

const rfbAnswers = (host: string) => () =>
  new Promise<boolean>((done) => {
    const socket = createConnection({ host, port: 5900 });
    socket.setTimeout(1000, () => {
      socket.destroy();
      done(false);
    });
    socket.once("data", (chunk) => {
      socket.destroy();
      done(chunk.toString("latin1").startsWith("RFB 003.008"));
    });
    socket.once("error", () => done(false));
  });

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
  );
};

// 198.19.231–248.0/24: clear of Docker's pools, its bridge (198.19.250.0/24) and the test's range.
const octet = 231 + Math.floor(Math.random() * 18);
const network = await docker.createNetwork({
  Name: `meetpoint-ws-bench-${process.pid}`,
  IPAM: { Config: [{ Subnet: `198.19.${octet}.0/24`, Gateway: `198.19.${octet}.1` }] },
});
const spec = {
  vnc: { password: "bench-12" },
  profile: { kind: "openvpn" as const, config: "client\ndev tun\nremote 198.19.255.1 1194\n" },
  firewall: `table inet meetpoint_workspace {
  chain output {
    type filter hook output priority 0; policy drop;
    oif "lo" accept
    ct state established,related accept
  }
}
`,
  report: { url: `http://198.19.${octet}.1:9/report`, token: "bench-token-0123456789" },
};
const startMs: number[] = [];
let idleRssMiB = Number.NaN;
try {
  for (let i = 0; i < STARTS; i++) {
    // From the start request: create, attach, start, spec handed over, Xvnc answering.
    const started = performance.now();
    const container = await startWorkspace(docker, {
      image,
      name: `meetpoint-ws-bench-${process.pid}-${i}`,
      network: network.id,
      spec,
    });
    try {
      const info = await container.inspect();
      const ip = Object.values(info.NetworkSettings.Networks)[0]?.IPAddress ?? "";
      if (!(await waitFor(rfbAnswers(ip), { timeoutMs: 30_000, intervalMs: 20 })))
        throw new Error("Xvnc did not answer within 30 s");
      startMs.push(performance.now() - started);
      if (i === STARTS - 1) {
        await Bun.sleep(IDLE_SECONDS * 1000);
        const stats = await container.stats({ stream: false });
        const inactive = stats.memory_stats.stats?.inactive_file ?? 0;
        idleRssMiB = (stats.memory_stats.usage - inactive) / 1024 ** 2;
      }
    } finally {
      await container.remove({ force: true });
    }
  }
} finally {
  await network.remove();
}

const results = {
  startToRfbP50Ms: Math.round(percentile(startMs, 50)),
  startToRfbP99Ms: Math.round(percentile(startMs, 99)),
  starts: startMs.length,
  idleMemoryMiB: Math.round(idleRssMiB),
};
console.log(`\nWorkspace (${image}):`);
console.log(
  `  start → RFB answering: p50 ${results.startToRfbP50Ms} ms, p99 ${results.startToRfbP99Ms} ms (${STARTS} starts)`,
);
console.log(
  `  idle memory after ${IDLE_SECONDS} s (docker stats, usage − inactive file): ${results.idleMemoryMiB} MiB`,
);
const file = "bench-results.json";
const all = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
all.workspace = results;
writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
