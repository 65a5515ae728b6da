// The gateway's OpenVPN client: started per data channel with the verified one-time profile,
// watched and stopped only through its management socket (SIGKILL if it does not go in time).
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ManagementClient, type ManagementEvent } from "@meetpoint/common";

/** The tun device the gateway's data channel uses; the firewall refers to it by name. */
export const TUNNEL_DEVICE = "meetpoint-tun";

/** OpenVPN's command line: the profile plus what the gateway insists on (pure). */
export function clientArgs(paths: { profile: string; management: string }): string[] {
  return [
    "openvpn",
    "--config",
    paths.profile,
    "--dev",
    TUNNEL_DEVICE,
    "--dev-type",
    "tun",
    "--management",
    paths.management,
    "unix",
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
    "--verb",
    "3",
  ];
}

export interface TunnelHandlers {
  up(localAddress: string): void;
  /** The tunnel is gone (or never came): why, in OpenVPN's words where it gave some. */
  down(reason: string): void;
}

/** The data channel as the agent uses it; a fake stands in for UI tests. */
export interface VpnPort {
  start(profile: string, handlers: TunnelHandlers): Promise<void>;
  stop(): Promise<void>;
  version(): Promise<string | null>;
  readonly running: boolean;
}

export class OpenvpnClient implements VpnPort {
  private child: ReturnType<typeof Bun.spawn> | null = null;
  private management: ManagementClient | null = null;
  private output: string[] = [];
  private generation = 0;

  constructor(
    private readonly runtimeDir: string,
    private readonly log: (line: string) => void = () => {},
  ) {}

  get running(): boolean {
    return this.child !== null;
  }

  async version(): Promise<string | null> {
    try {
      const child = Bun.spawn(["openvpn", "--version"], { stdout: "pipe", stderr: "ignore" });
      const text = await new Response(child.stdout).text();
      return text.match(/^OpenVPN (\d+\.\d+\.\d+)/m)?.[1] ?? null;
    } catch {
      return null;
    }
  }

  async start(profile: string, handlers: TunnelHandlers): Promise<void> {
    await this.stop();
    mkdirSync(this.runtimeDir, { recursive: true, mode: 0o700 });
    const paths = {
      profile: join(this.runtimeDir, "data-channel.ovpn"),
      management: join(this.runtimeDir, "openvpn.sock"),
    };
    rmSync(paths.management, { force: true });
    writeFileSync(paths.profile, profile, { mode: 0o600 });
    chmodSync(paths.profile, 0o600);
    this.output = [];
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
    let child: ReturnType<typeof Bun.spawn>;
    try {
      child = Bun.spawn(clientArgs(paths), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    } catch (error) {
      rmSync(paths.profile, { force: true });
      throw new Error(`OpenVPN cannot be started: ${String(error)}`);
    }
    this.child = child;
    this.collect(child.stdout as ReadableStream<Uint8Array>);
    this.collect(child.stderr as ReadableStream<Uint8Array>);
    void child.exited.then((code) => {
      if (this.child === child) this.child = null;
      end(this.failure() ?? `OpenVPN stopped (exit ${code})`);
    });

    const management = new ManagementClient((event: ManagementEvent) => {
      if (generation !== this.generation) return;
      if (event.type === "state" && event.name === "CONNECTED") handlers.up(event.localAddress);
      else if (
        event.type === "state" &&
        (event.name === "RECONNECTING" || event.name === "EXITING")
      )
        end(
          this.failure() ??
            `the data channel dropped (${event.detail || event.name.toLowerCase()})`,
        );
      else if (event.type === "fatal") end(`OpenVPN failed: ${event.text}`);
    });
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        await management.connect(paths.management);
        break;
      } catch {
        if (Date.now() > deadline || this.child !== child) {
          end(this.failure() ?? "OpenVPN did not open its management socket");
          return;
        }
        await Bun.sleep(50);
      }
    }
    this.management = management;
    management.onClose(() => end(this.failure() ?? "OpenVPN's management socket closed"));
    await management.command("state on");
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
    if (management?.connected)
      await Promise.race([management.command("signal SIGTERM"), Bun.sleep(200)]);
    management?.close();
    if (child) {
      const gone = await Promise.race([
        child.exited.then(() => true),
        Bun.sleep(700).then(() => false),
      ]);
      if (!gone) child.kill("SIGKILL");
      await child.exited;
    }
    rmSync(join(this.runtimeDir, "data-channel.ovpn"), { force: true });
  }

  /** The most telling line OpenVPN printed, if any. */
  private failure(): string | null {
    const line = [...this.output]
      .reverse()
      .find(
        (l) =>
          !/VERIFY OK|Initialization Sequence/.test(l) &&
          /AUTH_FAILED|VERIFY ERROR|error|fail|refused|denied|Cannot|unreachable|timed out|reset/i.test(
            l,
          ),
      );
    return line ? `OpenVPN: ${line.replace(/^\S+ \S+ /, "").slice(0, 300)}` : null;
  }

  private async collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let rest = "";
    const reader = stream.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += decoder.decode(value);
      const lines = rest.split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        this.log(`openvpn: ${line}`);
        this.output.push(line);
        if (this.output.length > 50) this.output.shift();
      }
    }
  }
}
