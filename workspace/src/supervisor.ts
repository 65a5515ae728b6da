// The jump workspace's supervisor (DESIGN.md §6), PID 1's only child under tini, as root with
// NET_ADMIN, NET_BIND_SERVICE, SETUID, SETGID and KILL only: applies the egress firewall, starts
// Xvnc (as its own user), the desktop (as `desk`), brings the customer's VPN up and reports its
// state to the platform.
import { mkdirSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { dirname } from "node:path";
import {
  fileExists,
  IPSEC_FILES,
  type ProcessHandle,
  run,
  spawnProcess,
  stopProcess,
  type WorkspaceProfile,
  waitFor,
} from "@meetpoint/common";
import { createReporter, type Reporter } from "./report.ts";
import { loadConfig, SPEC_ENV, SPEC_STDIN_ENV } from "./spec.ts";
import {
  CHARON_VICI,
  charonArgs,
  charonLineError,
  espProbeArgs,
  type IpsecBackend,
  ipsecBackendFor,
  LIBIPSEC_TUN,
  OPENVPN_CONFIG,
  openvpnArgs,
  openvpnLineEvent,
  STRONGSWAN_CONF,
  SWANCTL_CONFIG,
  strongswanConf,
  swanctlLoadArgs,
  swanctlSasState,
  VPN_DIR,
  withStrongswanConf,
} from "./vpn.ts";

/** The desktop user and the VNC server's user (workspace/Dockerfile). */
const DESK = { uid: 1000, gid: 1000 };
const VNC = { uid: 1001, gid: 1001 };
const VNC_DIR = "/tmp/.meetpoint-vnc";
const DISPLAY = ":0";
const RESTART_MS = 3000;

const log = (line: string) => console.log(`supervisor: ${line}`);

/** argv that runs `args` as `user`, its groups cleared and its env reset (setpriv(1)). */
function asUser(user: { uid: number; gid: number }, args: string[]): string[] {
  return [
    "setpriv",
    `--reuid=${user.uid}`,
    `--regid=${user.gid}`,
    "--clear-groups",
    "--reset-env",
    "--no-new-privs",
    "--",
    ...args,
  ];
}

const tcpAccepts = (port: number) => () =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.setTimeout(1000, () => done(false));
  });

/** Keeps a process running: started again `RESTART_MS` after each end until `stopped`. */
function keepRunning(
  name: string,
  start: () => ProcessHandle,
  onEnd: (reason: string) => void | Promise<void>,
  stopped: () => boolean,
): { current: () => ProcessHandle } {
  let process = start();
  const watch = async () => {
    for (;;) {
      const end = await process.exited;
      if (stopped()) return;
      const reason = end.signal ? `killed by ${end.signal}` : `exit ${end.code}`;
      log(`${name} ended (${reason}); starting it again`);
      await onEnd(reason);
      await Bun.sleep(RESTART_MS);
      if (stopped()) return;
      process = start();
    }
  };
  void watch();
  return { current: () => process };
}

async function startVnc(password: string): Promise<ProcessHandle> {
  // The password file in a directory only the VNC user can read (mkdir fails if it exists).
  const made = await run(
    asUser(VNC, ["sh", "-c", `umask 077 && mkdir ${VNC_DIR} && vncpasswd -f > ${VNC_DIR}/passwd`]),
    { input: `${password}\n` },
  );
  if (made.code !== 0) throw new Error(`vnc password file: ${made.stderr.trim()}`);
  const xvnc = spawnProcess(
    asUser(VNC, [
      "Xvnc",
      DISPLAY,
      "-rfbport",
      "5900",
      "-rfbauth",
      `${VNC_DIR}/passwd`,
      "-SecurityTypes",
      "VncAuth",
      "-localhost=0",
      "-nolisten",
      "tcp",
      // X clients: the desktop user's, over the Unix socket; the container has no other users.
      "-ac",
      "-geometry",
      "1440x900",
      "-depth",
      "24",
    ]),
    { onLine: (line) => console.log(`Xvnc: ${line}`) },
  );
  const ready = await waitFor(tcpAccepts(5900), {
    timeoutMs: 15_000,
    giveUpIf: () => xvnc.end !== null,
  });
  if (!ready) throw new Error(`Xvnc did not listen on 5900: ${xvnc.tail().slice(-3).join(" | ")}`);
  return xvnc;
}

const desktopProcess = (args: string[]) => () =>
  spawnProcess(asUser(DESK, ["env", `DISPLAY=${DISPLAY}`, ...args]), {
    onLine: (line) => console.log(`${args[0]}: ${line}`),
  });

function startOpenvpn(config: string, reporter: Reporter, stopped: () => boolean) {
  mkdirSync(VPN_DIR, { recursive: true, mode: 0o700 });
  writeFileSync(OPENVPN_CONFIG, config, { mode: 0o600 });
  let lastLineError: string | undefined;
  return keepRunning(
    "openvpn",
    () =>
      spawnProcess(openvpnArgs(), {
        onLine: (line) => {
          console.log(`openvpn: ${line}`);
          const event = openvpnLineEvent(line);
          if (!event) return;
          lastLineError = event.lastError ?? lastLineError;
          void reporter.set({ vpn: event.vpn, lastError: lastLineError });
        },
      }),
    (reason) =>
      reporter.set({
        vpn: "down",
        lastError: `openvpn: ${reason}${lastLineError ? ` (${lastLineError.replace(/^openvpn: /, "")})` : ""}`,
      }),
    stopped,
  );
}

/**
 * Kernel ESP or strongSwan's userspace IPsec: an ESP state added and deleted again in this
 * container's network namespace (vpn.ts, espProbeArgs) decides.
 */
async function probeIpsecBackend(): Promise<IpsecBackend> {
  const probe = espProbeArgs();
  const added = await run(probe.add);
  if (added.code === 0) {
    const deleted = await run(probe.delete);
    if (deleted.code !== 0) log(`ip xfrm: the probe's state stays: ${deleted.stderr.trim()}`);
  }
  const { backend, reason } = ipsecBackendFor(added);
  log(
    backend === "kernel"
      ? `ipsec: kernel ESP (${reason})`
      : `ipsec: strongSwan's userspace IPsec (kernel-libipsec, TUN ${LIBIPSEC_TUN}, ESP in UDP 4500): ${reason}`,
  );
  return backend;
}

async function startIpsec(
  profile: Extract<WorkspaceProfile, { kind: "ipsec" }>,
  reporter: Reporter,
  stopped: () => boolean,
) {
  mkdirSync(VPN_DIR, { recursive: true, mode: 0o700 });
  writeFileSync(SWANCTL_CONFIG, profile.swanctl, { mode: 0o600 });
  // Certificate auth: the files swanctl.conf names, root's alone like the config.
  for (const [name, path] of Object.entries(IPSEC_FILES))
    if (profile.files) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writeFileSync(path, profile.files[name as keyof typeof IPSEC_FILES], { mode: 0o600 });
    }
  writeFileSync(STRONGSWAN_CONF, strongswanConf(await probeIpsecBackend()), { mode: 0o600 });
  let lastLineError: string | undefined;
  const charon = keepRunning(
    "charon",
    () => {
      const handle = spawnProcess(charonArgs(), {
        onLine: (line) => {
          console.log(`charon: ${line}`);
          const error = charonLineError(line);
          if (error && error !== lastLineError) {
            lastLineError = error;
            void reporter.set({ vpn: reporter.current().vpn, lastError: error });
          }
        },
      });
      void (async () => {
        const ready = await waitFor(fileExists(CHARON_VICI), {
          timeoutMs: 10_000,
          giveUpIf: () => handle.end !== null,
        });
        if (!ready) return;
        const loaded = await run(swanctlLoadArgs());
        if (loaded.code !== 0)
          await reporter.set({
            vpn: "down",
            lastError: `swanctl --load-all: ${loaded.stderr.trim().slice(-200)}`,
          });
      })();
      return handle;
    },
    (reason) => reporter.set({ vpn: "down", lastError: `charon: ${reason}` }),
    stopped,
  );
  // Charon logs no single "up" line to follow: the SA listing is polled.
  const poll = setInterval(async () => {
    if (stopped() || charon.current().end !== null) return;
    const sas = await run(withStrongswanConf(["swanctl", "--list-sas", "--noblock"]));
    if (sas.code === 0)
      await reporter.set({
        vpn: swanctlSasState(sas.stdout, lastLineError !== undefined),
        lastError: reporter.current().lastError,
      });
  }, 2000);
  return { charon, poll };
}

/** The spec on stdin when the runtime hands it over that way; at most 30 s to arrive. */
async function specFromStdin(): Promise<string | undefined> {
  if (process.env[SPEC_STDIN_ENV] !== "1") return undefined;
  const text = await Promise.race([Bun.stdin.text(), Bun.sleep(30_000).then(() => null)]);
  if (text === null) throw new Error("workspace spec: nothing on stdin within 30 s");
  return text;
}

async function main() {
  let config: ReturnType<typeof loadConfig>;
  let reporter: Reporter;
  try {
    config = loadConfig(process.env, undefined, await specFromStdin());
    reporter = createReporter(config.spec.report, log);
  } catch (error) {
    log(error instanceof Error ? error.message : String(error));
    process.exit(2);
  }
  delete process.env[SPEC_ENV];
  const { spec } = config;

  // The allow-list first: nothing runs before egress is confined.
  const nft = await run(["nft", "-f", "-"], { input: spec.firewall });
  if (nft.code !== 0) {
    const error = `nft: ${nft.stderr.trim().split("\n").slice(0, 3).join(" | ").slice(0, 400)}`;
    log(`firewall not applied, stopping: ${error}`);
    await reporter.set({ vpn: "down", lastError: error, fatal: true });
    process.exit(3);
  }
  log("firewall applied");
  // Not awaited: a slow or unreachable platform must not delay the desktop.
  void reporter.tick();

  let stopping = false;
  const stopped = () => stopping;
  let xvnc: ProcessHandle;
  try {
    xvnc = await startVnc(spec.vnc.password);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(message);
    await reporter.set({ vpn: "down", lastError: message, fatal: true });
    process.exit(4);
  }
  log("Xvnc listening on 5900");
  const desktop = [
    keepRunning("openbox", desktopProcess(["openbox"]), () => {}, stopped),
    keepRunning("xterm", desktopProcess(["xterm"]), () => {}, stopped),
  ];

  const vpn =
    spec.profile.kind === "openvpn"
      ? { openvpn: startOpenvpn(spec.profile.config, reporter, stopped) }
      : { ipsec: await startIpsec(spec.profile, reporter, stopped) };
  const ticker = setInterval(() => void reporter.tick(), config.reportIntervalMs);

  const shutdown = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log(`stopping (${why})`);
    clearInterval(ticker);
    if (vpn.ipsec) clearInterval(vpn.ipsec.poll);
    const vpnProcess = vpn.openvpn?.current() ?? vpn.ipsec?.charon.current();
    // allSettled: a process that cannot be signalled must not keep the others running.
    await Promise.allSettled([
      ...(vpnProcess ? [stopProcess(vpnProcess)] : []),
      ...desktop.map((d) => stopProcess(d.current())),
    ]);
    await reporter.set({ vpn: "down", lastError: reporter.current().lastError });
    await stopProcess(xvnc).catch(() => {});
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  // Without the VNC server the workspace is of no use: end, the runtime sees the container stop.
  void xvnc.exited.then(async (end) => {
    if (stopping) return;
    await reporter.set({
      vpn: "down",
      lastError: `Xvnc ended (exit ${end.code ?? end.signal})`,
      fatal: true,
    });
    process.exit(5);
  });
}

await main();
