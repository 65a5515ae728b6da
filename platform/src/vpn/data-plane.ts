// The real data plane: OpenVPN servers plus the nftables firewall, wired to the session rules.
// Where the platform cannot run it (no root, no openvpn ≥ 2.6.11, no nft), it is off — with the
// exact reason — and the portal and API keep working.
import { existsSync } from "node:fs";
import type { Cidr, ManagementClient, ManagementEvent } from "@meetpoint/common";
import { type Grant, KernelFirewall } from "../firewall/index.ts";
import type { Pki } from "../pki/index.ts";
import {
  type ConnectionHandler,
  carryOut,
  type DataPlane,
  type DataPlaneHealth,
  type DataPlaneStatus,
  instanceNetwork,
} from "../sessions/index.ts";
import { type Clock, systemClock } from "../shared/index.ts";
import type { CommandRunner } from "../system/index.ts";
import {
  deviceName,
  parseOpenvpnVersion,
  type ServerInstance,
  supportedVersion,
} from "./server-config.ts";
import { VpnServers } from "./servers.ts";

export interface KernelDataPlaneOptions {
  commands: CommandRunner;
  runtimeDir: string;
  pki: Pki;
  proxyPool: Cidr;
  tunnelPool: Cidr;
  listen: { protocol: "tcp" | "udp"; port: number; address?: string | null }[];
  log: (line: string) => void;
  /** How often OpenVPN reports traffic per connection, in seconds; default 5. */
  bytecountSeconds?: number;
  /** How often each tunnel's keys are renewed (OpenVPN reneg-sec), in seconds; default 3600. */
  renegotiateSeconds?: number;
  /** The platform's clock (certificate renewal, "since" times); default the system clock. */
  clock?: Clock;
}

/** Why the data plane cannot run here, or null. */
export async function dataPlaneProblem(
  commands: CommandRunner,
  listen: unknown[],
): Promise<string | null> {
  if (listen.length === 0) return "no OpenVPN server configured (MEETPOINT_VPN_LISTEN=off)";
  if (process.getuid?.() !== 0)
    return "the platform is not running as root (OpenVPN servers and nftables need it)";
  if (!existsSync("/dev/net/tun")) return "/dev/net/tun is missing";
  const version = await commands.run(["openvpn", "--version"]).catch(() => null);
  const parsed = version ? parseOpenvpnVersion(version.stdout + version.stderr) : null;
  if (!parsed) return "openvpn is not installed";
  if (!supportedVersion(parsed))
    return `openvpn ${parsed.join(".")} is too old: 2.6.11 or newer is required`;
  for (const tool of ["nft", "conntrack"]) {
    const result = await commands.run([tool, "--version"]).catch(() => null);
    if (result?.code !== 0) return `${tool} is not installed`;
  }
  return null;
}

export class KernelDataPlane implements DataPlane {
  readonly instances: ServerInstance[];
  private readonly firewall: KernelFirewall;
  private servers: VpnServers | null = null;
  private handler: ConnectionHandler | null = null;
  private state: DataPlaneStatus = { on: false, reason: "not started yet" };

  private connected = new Set<string>();
  private watch: Timer | null = null;
  private crlProblem: { problem: string; since: Date } | null = null;
  private readonly clock: Clock;

  constructor(private readonly options: KernelDataPlaneOptions) {
    this.firewall = new KernelFirewall(options.commands);
    this.clock = options.clock ?? systemClock;
    this.instances = options.listen.map((l, index) => ({
      index,
      protocol: l.protocol,
      port: l.port,
      listenAddress: l.address ?? null,
      tunnelNetwork: instanceNetwork(options.tunnelPool, index),
    }));
  }

  status(): DataPlaneStatus {
    return this.state;
  }

  /**
   * Starts everything, or reports why it cannot: ruleset with the handler's active grants (none
   * after a restart), then the OpenVPN servers, whose connections `handler` decides from then on.
   */
  async start(handler: ConnectionHandler): Promise<DataPlaneStatus> {
    this.handler = handler;
    const problem = await dataPlaneProblem(this.options.commands, this.options.listen);
    if (problem) {
      this.state = { on: false, reason: problem };
      return this.state;
    }
    // A container's /proc/sys is read-only: there forwarding is switched on by its runtime
    // (--sysctl net.ipv4.ip_forward=1), and only checked here.
    const on = await this.options.commands.run(["sysctl", "-n", "net.ipv4.ip_forward"]);
    if (on.stdout.trim() !== "1") {
      const forwarding = await this.options.commands.run([
        "sysctl",
        "-qw",
        "net.ipv4.ip_forward=1",
      ]);
      if (forwarding.code !== 0) {
        this.state = {
          on: false,
          reason: `cannot enable IPv4 forwarding (in a container: --sysctl net.ipv4.ip_forward=1): ${forwarding.stderr.trim() || "sysctl failed"}`,
        };
        return this.state;
      }
    }

    await this.firewall.apply(this.model(await handler.activeGrants()));
    // Flows a crashed platform left established stop here: every tunnel flow is new again.
    await this.firewall.forgetPool(this.options.tunnelPool);
    this.servers = new VpnServers(
      {
        commands: this.options.commands,
        dir: this.options.runtimeDir,
        pki: this.options.pki,
        proxyPool: this.options.proxyPool,
        instances: this.instances,
        onEvent: (instance, event, client) => void this.handle(instance, event, client),
        onCrash: (instance, output) => {
          this.options.log(`OpenVPN server ${instance} crashed:\n${output}`);
          void handler
            .serverLost(instance)
            .catch((error) =>
              this.options.log(`ending sessions of server ${instance} failed: ${error}`),
            );
        },
        log: this.options.log,
        bytecountSeconds: this.options.bytecountSeconds,
        renegotiateSeconds: this.options.renegotiateSeconds,
      },
      () => this.clock.now(),
    );

    try {
      await this.servers.start();
    } catch (error) {
      await this.servers.stop();
      this.state = {
        on: false,
        reason: `OpenVPN did not start: ${error instanceof Error ? error.message : String(error)}`,
      };
      return this.state;
    }
    this.state = { on: true };
    this.startWatch();
    return this.state;
  }

  private model(grants: Grant[]) {
    return {
      tunnelInterfaces: "meetpoint-vpn*",
      technicianPool: this.options.tunnelPool,
      proxyPool: this.options.proxyPool,
      grants,
    };
  }

  private async handle(
    instance: number,
    event: ManagementEvent,
    client: ManagementClient,
  ): Promise<void> {
    const handler = this.handler;
    if (!handler) return;
    // Which clients are connected, kept from the events alone: cutAll() needs no database.
    const key = `${instance}:${"cid" in event ? event.cid : -1}`;
    if (event.type === "established") this.connected.add(key);
    if (event.type === "disconnect") this.connected.delete(key);
    try {
      if (event.type === "connect" || event.type === "reauth") {
        const serial = event.env.tls_serial_hex_0 ?? "";
        const decision = serial
          ? await handler.decide(`${instance}:${event.cid}`, serial)
          : { allow: false as const, reason: "no client certificate" };
        if (decision.allow) await client.allow(event.cid, event.kid, decision.config);
        else await client.deny(event.cid, event.kid, decision.reason);
      } else if (event.type === "disconnect") {
        await handler.closed(`${instance}:${event.cid}`);
      } else if (event.type === "bytecount") {
        await handler.countBytes(`${instance}:${event.cid}`, event.bytesIn, event.bytesOut);
      }
    } catch (error) {
      // Fail closed: a decision that could not be made (database down …) is a denial.
      this.options.log(
        `management event on server ${instance} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      if (event.type === "connect" || event.type === "reauth")
        await client.deny(event.cid, event.kid, "platform cannot decide right now");
    }
  }

  /**
   * Every 10 s: is the CRL usable (logged once when it stops being, and when it is again); every
   * 10 minutes: the servers' certificates renewed when due.
   */
  private startWatch(): void {
    let beats = 0;
    const check = async () => {
      await this.checkRevocationList();
      if (beats++ % 60 === 0)
        await this.servers
          ?.renewCertificates((index) => this.connectionsOn(index))
          .catch((error) => this.options.log(`renewing server certificates failed: ${error}`));
    };
    this.watch = setInterval(() => void check(), 10_000);
  }

  /** Records (and logs once) when the revocation list every connection needs became unusable. */
  async checkRevocationList(): Promise<void> {
    const files = this.options.pki.trustFiles;
    const problem = files
      ? await this.options.pki.trustFilesProblem(files)
      : "the platform keeps no revocation list";
    if (problem && !this.crlProblem) {
      this.crlProblem = { problem, since: this.clock.now() };
      this.options.log(`Revocation list unusable, every new connection is refused: ${problem}`);
    } else if (!problem && this.crlProblem) {
      this.options.log(
        `Revocation list usable again (it was not since ${this.crlProblem.since.toISOString()})`,
      );
      this.crlProblem = null;
    }
  }

  private connectionsOn(index: number): number {
    return [...this.connected].filter((key) => key.startsWith(`${index}:`)).length;
  }

  health(): DataPlaneHealth {
    return {
      servers:
        this.servers?.states() ?? this.instances.map((i) => ({ index: i.index, state: "stopped" })),
      refusedHandshakes: this.servers?.refused ?? { total: 0, byCause: {}, last: null },
      revocationList: this.crlProblem ? { ok: false, ...this.crlProblem } : { ok: true },
    };
  }

  changeGrants(add: Grant[], remove: Grant[]): Promise<void> {
    return this.firewall.changeGrants(add, remove);
  }

  /** Fail closed: each step retried, all tried, what still fails logged and thrown. */
  async cutAll(): Promise<void> {
    if (!this.state.on) return;
    const connections = [...this.connected];
    this.connected.clear();
    await carryOut(
      [
        { step: "remove every grant", run: () => this.firewall.apply(this.model([])) },
        {
          step: "forget every tunnel flow (conntrack)",
          run: () => this.firewall.forgetPool(this.options.tunnelPool),
        },
        ...connections.map((connection) => ({
          step: `end OpenVPN connection ${connection}`,
          run: async () => this.servers?.disconnect(connection),
        })),
      ],
      this.options.log,
    );
  }

  forgetFlows(flows: { technicianAddress: string; proxyAddress: string }[]): Promise<void> {
    return this.firewall.forgetFlows(flows);
  }

  async disconnect(connection: string): Promise<void> {
    await this.servers?.disconnect(connection);
  }

  async routeProxyBlock(block: string, instance: number | null): Promise<void> {
    const args =
      instance === null
        ? ["ip", "route", "del", block]
        : ["ip", "route", "replace", block, "dev", deviceName(instance)];
    const result = await this.options.commands.run(args);
    // Deleting a route that went away with its tun device is fine; adding one must work.
    if (result.code !== 0 && instance !== null)
      throw new Error(`routing ${block} failed: ${result.stderr.trim()}`);
  }

  async translateWorkstation(proxyAddress: string, tunnelAddress: string | null): Promise<void> {
    await this.firewall.translate(proxyAddress, tunnelAddress);
  }

  grantCounters() {
    return this.firewall.counters();
  }

  /** The tun devices this data plane creates. */
  get devices(): string[] {
    return this.instances.map((i) => deviceName(i.index));
  }

  processOf(index: number) {
    return this.servers?.processOf(index) ?? null;
  }

  async stop(): Promise<void> {
    if (this.watch) clearInterval(this.watch);
    await this.servers?.stop();
    if (this.state.on) await this.firewall.remove();
    this.state = { on: false, reason: "stopped" };
  }
}
