// `bun run bench`, the browser relay's part (no Docker): one real Xvnc (1440x900, as in the
// workspace image) with xterms on it, and the platform's real VncRelay behind the portal's HTTPS
// listener (TLS WebSocket, recording every byte), as in platform/test/workspace-relay.test.ts.
// A minimal RFB 3.8 viewer speaks to Xvnc either straight over TCP (direct) or through the relay's
// WebSocket as noVNC does (binary frames); it asks for ZRLE (then CopyRect, Raw: ZRLE is what
// noVNC decodes too, and the simplest to frame without decoding) and requests the next incremental
// update as soon as one has arrived. Direct and relayed alternate in the same run, a new
// connection each round. Measured:
// - frame rate: FramebufferUpdates per second while an xterm scrolls a line every ~10 ms;
// - input round trip: with the screen static, a key typed into an xterm's shell → the end of the
//   next FramebufferUpdate (the echo), p50/p99;
// - recording size per minute of an ordinary session through the relay: typing shell commands at
//   4 keys/s into the xterm and reading their output while `top` refreshes a larger xterm every
//   second (BENCH_WORKSPACE_SESSION_SECONDS, default 60).
// Targets (issue 17): relay ≥ 0.9 of direct. Figures to stdout and into bench-results.json.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { workspaceRecordings } from "../src/db/index.ts";
import { createUser, grantRole } from "../src/identity/index.ts";
import { HttpsListener } from "../src/web/index.ts";
import { SESSION_COOKIE } from "../src/web/middleware.ts";
import {
  databaseDisplays,
  grantAccess,
  recordRunning,
  VncRelay,
  viewerCheck,
} from "../src/workspaces/index.ts";
import { arrangeMachine } from "../test/support/arrange.ts";
import { testPlatform } from "../test/support/platform.ts";
import { firstSignIn } from "../test/support/portal.ts";
import { tlsFiles } from "../test/support/tls-files.ts";
import { arrangeWorkspace } from "../test/support/workspace.ts";
import { startXvnc, xvncMissing } from "../test/support/xvnc.ts";
import { directTo, openViewer, throughRelay, type Viewer } from "./rfb-viewer.ts";

const ROUNDS = Number(process.env.BENCH_WORKSPACE_ROUNDS ?? 2);
const FPS_SECONDS = Number(process.env.BENCH_WORKSPACE_FPS_SECONDS ?? 5);
const KEYS_PER_ROUND = Number(process.env.BENCH_WORKSPACE_KEYS ?? 30);
const SESSION_SECONDS = Number(process.env.BENCH_WORKSPACE_SESSION_SECONDS ?? 60);
const ORIGIN = "https://platform.lab.test";

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
};

const missing = xvncMissing() ?? (Bun.which("xterm") ? null : "xterm is not installed");
if (missing) {
  console.log(`\nWorkspace relay benchmarks: not measured (${missing})`);
  process.exit(0);
}

async function framesPerSecond(viewer: Viewer): Promise<number> {
  const [from, started] = [viewer.updates, performance.now()];
  await Bun.sleep(FPS_SECONDS * 1000);
  return (viewer.updates - from) / ((performance.now() - started) / 1000);
}

async function roundTrips(viewer: Viewer, into: number[]): Promise<void> {
  for (let i = 0; i < KEYS_PER_ROUND; i++) {
    while (performance.now() - viewer.lastUpdateMs < 200) await Bun.sleep(20); // static screen
    const echoed = viewer.nextUpdate(5000);
    const sent = performance.now();
    viewer.key(0x78); // "x"
    await echoed;
    into.push(performance.now() - sent);
  }
}

// The platform as the tests wire it, with the relay's production check.
const recordingsDir = mkdtempSync(join(tmpdir(), "meetpoint-recordings-"));
let relay: VncRelay | undefined;
const p = await testPlatform({
  extraDeps: ({ db, clock, pki }) => {
    const displays = databaseDisplays(db, pki);
    const session = { idleMs: 30 * 60_000, absoluteMs: 12 * 3_600_000 };
    relay = new VncRelay({
      db,
      clock,
      displays,
      recordingsDir,
      check: viewerCheck({ db, clock, session, displays }),
    });
    return { workspaceRelay: relay };
  },
});
const files = await tlsFiles("relay-bench");
const xvnc = await startXvnc({ geometry: "1440x900" });
const xterms: ReturnType<typeof Bun.spawn>[] = [];
const xterm = (geometry: string, command: string) => {
  const proc = Bun.spawn(["xterm", "-geometry", geometry, "-e", "sh", "-c", command], {
    env: { ...process.env, DISPLAY: `:${xvnc.display}` },
  });
  xterms.push(proc);
  return proc;
};
let listener: HttpsListener | undefined;
try {
  if (!relay) throw new Error("the relay was not made");
  const scene = await arrangeMachine(p, []);
  const approver = await createUser(p.adminCtx, { username: "admin2", displayName: "Admin 2" });
  await grantRole(p.adminCtx, approver.user.id, { role: "platform_admin", customerId: "" });
  const { workspaceId } = await arrangeWorkspace(p, scene, approver.user.id);
  const u = await createUser(p.adminCtx, { username: "viewer", displayName: "Viewer" });
  await grantRole(p.adminCtx, u.user.id, { role: "technician", customerId: scene.customerId });
  await grantAccess(p.adminCtx, workspaceId, { userId: u.user.id });
  const { browser } = await firstSignIn(p.app, p.database.db, p.clock, "viewer", u.password);
  listener = new HttpsListener(
    {
      port: 0,
      hostname: "127.0.0.1",
      idleTimeout: 30,
      fetch: p.app.fetch,
      websocket: relay.websocket,
    },
    { cert: await Bun.file(files.cert).text(), key: await Bun.file(files.key).text() },
    () => {},
  );
  await recordRunning(p.database.db, p.clock, p.pki, {
    workspaceId,
    host: "127.0.0.1",
    port: xvnc.port,
    password: xvnc.password,
  });
  const transports = {
    direct: directTo(xvnc.port),
    relay: throughRelay(
      `wss://127.0.0.1:${listener.port}/workspaces/${workspaceId}/vnc`,
      `${SESSION_COOKIE}=${browser.cookie(SESSION_COOKIE)}`,
      ORIGIN,
    ),
  };
  // The technician's shell; with no window manager the focus follows the pointer, kept over it.
  xterm("80x24+0+0", "exec sh");
  const open = async (name: keyof typeof transports) => {
    const viewer = await openViewer(transports[name], xvnc.password);
    viewer.pointer(100, 100);
    return viewer;
  };
  const scroller = xterm("150x60+490+0", "while :; do date +%T.%N; sleep 0.01; done");
  await Bun.sleep(1500);

  const fps = { direct: [] as number[], relay: [] as number[] };
  for (let round = 0; round < ROUNDS; round++)
    for (const name of ["direct", "relay"] as const) {
      const viewer = await open(name);
      fps[name].push(await framesPerSecond(viewer));
      viewer.close();
    }
  scroller.kill();
  await scroller.exited;

  const rtt = { direct: [] as number[], relay: [] as number[] };
  for (let round = 0; round < ROUNDS; round++)
    for (const name of ["direct", "relay"] as const) {
      const viewer = await open(name);
      await roundTrips(viewer, rtt[name]);
      viewer.close();
    }

  // An ordinary session through the relay, `top` refreshing beside the shell; its recording is
  // the one new row.
  xterm("150x60+490+0", "exec top -d 1");
  const before = new Set((await p.database.db.select().from(workspaceRecordings)).map((r) => r.id));
  const session = await open("relay");
  const started = performance.now();
  session.key(0xffe3, 0x75); // Control_L+u: the round trips' x's are erased
  const commands = [
    "ls -l /usr/bin | head -n 40",
    "date",
    "uname -a",
    "cat /etc/os-release",
    "df -h",
    "ps aux | head -n 20",
  ];
  for (let i = 0; performance.now() - started < SESSION_SECONDS * 1000; i++) {
    for (const ch of commands[i % commands.length] ?? "") {
      session.key(ch.charCodeAt(0));
      await Bun.sleep(250);
    }
    session.key(0xff0d); // Return
    await Bun.sleep(3000);
  }
  const sessionSeconds = (performance.now() - started) / 1000;
  session.close();
  let recording: { file: string; endedAt: Date | null } | undefined;
  for (let i = 0; i < 100 && !recording?.endedAt; i++, await Bun.sleep(100))
    recording = (await p.database.db.select().from(workspaceRecordings)).find(
      (r) => !before.has(r.id),
    );
  if (!recording?.endedAt) throw new Error("the session's recording was not closed");
  const recordingBytes = statSync(join(recordingsDir, recording.file)).size;

  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const results = {
    framesPerSecond: {
      direct: mean(fps.direct),
      relay: mean(fps.relay),
      seconds: FPS_SECONDS * ROUNDS,
    },
    roundTripMs: {
      samples: rtt.relay.length,
      direct: { p50: percentile(rtt.direct, 50), p99: percentile(rtt.direct, 99) },
      relay: { p50: percentile(rtt.relay, 50), p99: percentile(rtt.relay, 99) },
    },
    recording: {
      bytes: recordingBytes,
      seconds: sessionSeconds,
      updates: session.updates,
      mbPerMinute: recordingBytes / 1e6 / (sessionSeconds / 60),
    },
  };
  const met = (ratio: number) =>
    `${ratio.toFixed(2)}   target ≥ 0.9   ${ratio >= 0.9 ? "MET" : "NOT MET"}`;
  const r = results.roundTripMs;
  console.log(
    [
      "",
      "Workspace relay against a direct VNC connection (one Xvnc 1440x900, ZRLE; relay = TLS WebSocket through the portal, recorded):",
      `  frame rate, scrolling xterm (${results.framesPerSecond.seconds} s each; Xvnc sends ≤ 60/s): direct ${results.framesPerSecond.direct.toFixed(1)}/s, relay ${results.framesPerSecond.relay.toFixed(1)}/s, relay/direct ${met(results.framesPerSecond.relay / results.framesPerSecond.direct)}`,
      `  key → echo on screen (${r.samples} each): direct p50 ${r.direct.p50.toFixed(1)} ms, p99 ${r.direct.p99.toFixed(1)} ms; relay p50 ${r.relay.p50.toFixed(1)} ms, p99 ${r.relay.p99.toFixed(1)} ms`,
      `    direct/relay p50 ${met(r.direct.p50 / r.relay.p50)}; p99 ${(r.direct.p99 / r.relay.p99).toFixed(2)}`,
      `  recording of an ordinary session (typing shell commands beside top, ${sessionSeconds.toFixed(0)} s, ${session.updates} updates): ${results.recording.mbPerMinute.toFixed(2)} MB/min (${recordingBytes.toLocaleString("en")} bytes)`,
    ].join("\n"),
  );
  const file = "bench-results.json";
  const all = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
  all.workspaceRelay = results;
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
} finally {
  for (const proc of xterms) proc.kill();
  listener?.stop();
  await relay?.stop();
  await xvnc.stop();
  files.dispose();
  await p.dispose();
  rmSync(recordingsDir, { recursive: true, force: true });
}
