// The gateway's OpenVPN client: started per data channel with the verified one-time profile,
// watched and stopped only through its management socket (SIGKILL if it does not go in time).
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  exitReason,
  type HttpProxy,
  ManagementClient,
  type ManagementEvent,
  type ProcessHandle,
  run,
  spawnProcess,
  stopProcess,
  waitFor,
} from "@meetpoint/common";

/** The tun device the gateway's data channel uses; the firewall refers to it by name. */
export const TUNNEL_DEVICE = "meetpoint-tun";
/** The one-time profile in the runtime directory: deleted once OpenVPN has read it. */
const PROFILE_FILE = "data-channel.ovpn";
/** The proxy's credentials while OpenVPN runs (it reads them at every connection attempt). */
const PROXY_AUTH_FILE = "http-proxy.auth";

/**
 * OpenVPN's command line: the profile plus what the gateway insists on (pure). With `httpProxy`,
 * OpenVPN reaches the server through it (openvpn(8) --http-proxy host port [authfile basic]; TCP
 * only), the credentials in a file of their own (user, password: one line each).
 */
export function clientArgs(
  paths: { profile: string; management: string },
  executable = "openvpn",
  httpProxy: { host: string; port: number; authFile: string | null } | null = null,
): string[] {
  const proxy = httpProxy
    ? [
        "--http-proxy",
        httpProxy.host,
        String(httpProxy.port),
        ...(httpProxy.authFile ? [httpProxy.authFile, "basic"] : []),
      ]
    : [];
  return [
    executable,
    "--config",
    paths.profile,
    "--dev",
    TUNNEL_DEVICE,
    "--dev-type",
    "tun",
    "--management",
    paths.management,
    "unix",
    // Held until the agent listens for its state: a tunnel up before "state on" would never be
    // heard (seen under load: openvpn connected, the agent waited for CONNECTED until its timeout).
    "--management-hold",
    "--script-security",
    "1",
    // The gateway routes nothing on the platform's word: replies reach technicians on-link.
    "--pull-filter",
    "ignore",
    "redirect-gateway",
    "--pull-filter",
    "ignore",
    "route",
    "--pull-filter",
    "ignore",
    "dhcp-option",
    ...proxy,
    "--verb",
    "3",
  ];
}

export interface TunnelHandlers {
  up(localAddress: string): void;
  /** The tunnel is gone (or never came): why, in OpenVPN's words where it gave some. */
  down(reason: string): void;
}

/** How a tunnel is started beside its profile. */
export interface TunnelOptions {
  /** The plant's HTTP proxy; the profile must then name TCP remotes only. */
  httpProxy?: HttpProxy | null;
}

/** The data channel as the agent uses it; a fake stands in for UI tests. */
export interface VpnPort {
  start(profile: string, handlers: TunnelHandlers, options?: TunnelOptions): Promise<void>;
  stop(): Promise<void>;
  version(): Promise<string | null>;
  readonly running: boolean;
}

export class OpenvpnClient implements VpnPort {
  private child: ProcessHandle | null = null;
  private management: ManagementClient | null = null;
  private generation = 0;

  constructor(
    private readonly runtimeDir: string,
    private readonly log: (line: string) => void = () => {},
    /** The openvpn executable (a name on PATH or a path); tests pass a fake. */
    private readonly executable = "openvpn",
  ) {}

  get running(): boolean {
    return this.child !== null;
  }

  async version(): Promise<string | null> {
    const { stdout } = await run([this.executable, "--version"], { timeoutMs: 5000 });
    return stdout.match(/^OpenVPN (\d+\.\d+\.\d+)/m)?.[1] ?? null;
  }

  async start(
    profile: string,
    handlers: TunnelHandlers,
    options: TunnelOptions = {},
  ): Promise<void> {
    await this.stop();
    mkdirSync(this.runtimeDir, { recursive: true, mode: 0o700 });
    const paths = {
      profile: join(this.runtimeDir, PROFILE_FILE),
      management: join(this.runtimeDir, "openvpn.sock"),
    };
    rmSync(paths.management, { force: true });
    writeFileSync(paths.profile, profile, { mode: 0o600 });
    chmodSync(paths.profile, 0o600);
    const proxy = options.httpProxy ?? null;
    let authFile: string | null = null;
    if (proxy?.username) {
      authFile = join(this.runtimeDir, PROXY_AUTH_FILE);
      writeFileSync(authFile, `${proxy.username}\n${proxy.password ?? ""}\n`, { mode: 0o600 });
      chmodSync(authFile, 0o600);
    }
    // Events of this process count only while it is the current one: a process stopped on
    // purpose, or replaced by a newer one, must not report "down" into the newer tunnel's life.
    const generation = ++this.generation;
    const end = (reason: string) => {
      if (generation !== this.generation) return;
      void this.stop().then(() => {
        // Reported only if nothing was started since (stop() itself moved on one generation).
        if (this.generation === generation + 1) handlers.down(reason);
      });
    };
    let child: ProcessHandle;
    try {
      child = spawnProcess(
        clientArgs(
          paths,
          this.executable,
          proxy ? { host: proxy.host, port: proxy.port, authFile } : null,
        ),
        {
          // Without the agent nobody closes the firewall or tells the platform: the tunnel goes too.
          diesWithParent: true,
          tailLines: 50,
          onLine: (line) => this.log(`openvpn: ${line}`),
        },
      );
    } catch (error) {
      rmSync(paths.profile, { force: true });
      throw new Error(`OpenVPN cannot be started: ${String(error)}`, { cause: error });
    }
    this.child = child;
    const failure = () => failureLine(child.tail());
    void child.exited.then((how) => {
      if (this.child === child) this.child = null;
      end(failure() ?? `OpenVPN stopped (${exitReason(how)})`);
    });

    const management = new ManagementClient((event: ManagementEvent) => {
      if (generation !== this.generation) return;
      if (event.type === "state" && event.name === "CONNECTED") handlers.up(event.localAddress);
      else if (
        event.type === "state" &&
        (event.name === "RECONNECTING" || event.name === "EXITING")
      )
        end(failure() ?? `the data channel dropped (${event.detail || event.name.toLowerCase()})`);
      else if (event.type === "fatal") end(`OpenVPN failed: ${event.text}`);
    });
    const opened = await waitFor(() => management.connect(paths.management).then(() => true), {
      timeoutMs: 5000,
      intervalMs: 50,
      giveUpIf: () => this.child !== child,
    });
    if (!opened) {
      end(failure() ?? "OpenVPN did not open its management socket");
      return;
    }
    this.management = management;
    chmodSync(paths.management, 0o600);
    management.onClose(() => end(failure() ?? "OpenVPN's management socket closed"));
    await management.command("state on");
    await management.command("hold release");
    // OpenVPN has read its profile: the one-time key need not stay on disk.
    rmSync(paths.profile, { force: true });
  }

  /** Stops the client: SIGTERM through the management socket, SIGKILL after 700 ms. */
  async stop(): Promise<void> {
    this.generation++;
    const child = this.child;
    const management = this.management;
    this.child = null;
    this.management = null;
    const askToEnd = async () => {
      if (management?.connected)
        await Promise.race([management.command("signal SIGTERM"), Bun.sleep(200)]);
      management?.close();
    };
    if (child) await stopProcess(child, { graceMs: 700, terminate: askToEnd });
    else await askToEnd();
    rmSync(join(this.runtimeDir, PROFILE_FILE), { force: true });
    rmSync(join(this.runtimeDir, PROXY_AUTH_FILE), { force: true });
  }
}

/** The most telling line OpenVPN printed, if any. */
function failureLine(output: string[]): string | null {
  const line = [...output]
    .reverse()
    .find(
      (l) =>
        !/VERIFY OK|Initialization Sequence/.test(l) &&
        /AUTH_FAILED|VERIFY ERROR|error|fail|refused|denied|Cannot|unreachable|timed out|reset|proxy/i.test(
          l,
        ),
    );
  return line ? `OpenVPN: ${line.replace(/^\S+ \S+ /, "").slice(0, 300)}` : null;
}
