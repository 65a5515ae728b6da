// Keeps the kernel firewall in line with the agent's status and the platform's signed settings: open
// towards the machines only while online, and only for the services of the platform's remote
// sessions; the gateway's SSH port to the tunnel only during a maintenance session; the operator UI
// on the WAN side only where the settings say so.
import type { FirewallPort } from "../firewall/kernel.ts";
import type { ForwardedService, GatewayFirewall } from "../firewall/ruleset.ts";
import { TUNNEL_DEVICE } from "../vpn/openvpn.ts";
import type { Log } from "./events.ts";
import type { GatewaySettings } from "./gateway-settings.ts";
import type { ModbusRedirect } from "./modbus-sync.ts";
import { maintenanceOpen } from "./ssh-sync.ts";
import type { AgentStatus } from "./status.ts";

/** What the firewall needs beside the status: where the LAN is, the UI's ports, the settings. */
export interface FirewallContext {
  lanInterface: string;
  /** The operator UI's TCP ports (HTTPS, and HTTP when it redirects). */
  uiPorts: number[];
  settings: () => GatewaySettings;
  /**
   * The read-only Modbus filter: brought in line with the status before each apply (listeners
   * started, connections of ended sessions closed), then asked where it listens.
   */
  modbus?: { follow(): Promise<void>; redirects(): ModbusRedirect[] };
}

/**
 * Services the firewall lets through in full: those of the platform's remote sessions whose mode is
 * "full" (or absent: a platform that knows no modes), while online. A read-only service goes
 * through the Modbus filter instead; one of a mode this agent does not know goes nowhere.
 */
function forwardedServices(status: AgentStatus): ForwardedService[] {
  if (status.state !== "online") return [];
  return status.remoteSessions.flatMap((session) =>
    session.services
      .filter((service) => (service.mode ?? "full") === "full")
      .map((service) => ({
        proxyAddress: session.proxyAddress,
        lanAddress: session.lanAddress,
        protocol: service.protocol,
        port: service.port,
      })),
  );
}

/**
 * Per technician, the services their session has read-only: they must never pass in full, even
 * where another technician's session forwards the same service in full (DNAT).
 */
function readOnlyFlows(status: AgentStatus): NonNullable<GatewayFirewall["readOnlyFlows"]> {
  if (status.state !== "online") return [];
  return status.remoteSessions.flatMap((session) => {
    const technicianAddress = session.technicianAddress;
    if (!technicianAddress) return [];
    return session.services
      .filter((service) => (service.mode ?? "full") !== "full" && service.protocol === "tcp")
      .map((service) => ({
        technicianAddress,
        lanAddress: session.lanAddress,
        port: service.port,
      }));
  });
}

/** The gateway ruleset the status and the settings ask for (pure). */
export function firewallFor(
  status: AgentStatus,
  context: {
    lanInterface: string;
    uiPorts: number[];
    settings: GatewaySettings;
    modbusFilters?: ModbusRedirect[];
  },
): GatewayFirewall {
  const { settings } = context;
  return {
    lanInterface: context.lanInterface,
    tunnelInterface: status.state === "online" ? TUNNEL_DEVICE : null,
    services: forwardedServices(status),
    maintenanceSsh:
      maintenanceOpen(status, settings) && status.tunnelAddress
        ? { tunnelAddress: status.tunnelAddress }
        : null,
    uiPortsOnWan: settings.operatorUi.reach === "lan-and-wan" ? context.uiPorts : [],
    modbusFilters: status.state === "online" ? (context.modbusFilters ?? []) : [],
    readOnlyFlows: readOnlyFlows(status),
  };
}

const key = (s: ForwardedService) => `${s.protocol} ${s.proxyAddress}:${s.port}`;

/** Services `before` forwarded that `after` does not (their established flows must go too). */
export function closedServices(before: GatewayFirewall | null, after: GatewayFirewall) {
  const kept = new Set(after.services.map(key));
  return (before?.services ?? []).filter((s) => !kept.has(key(s)));
}

/** Tries per step before an apply fails; a failed apply is tried again every 2 s until it works. */
const ATTEMPTS = 3;
const RETRY_MS = 2000;

export class FirewallSync {
  private applied: GatewayFirewall | null = null;
  private appliedKey = "";
  private queue: Promise<void> = Promise.resolve();
  private retry: Timer | null = null;

  constructor(
    private readonly firewall: FirewallPort,
    private readonly context: FirewallContext,
    private readonly status: () => AgentStatus,
    private readonly log: Log,
  ) {}

  /**
   * Brings the kernel in line with the status, and forgets the flows of services that closed.
   * Applies run one after another and each reads the status when it runs, so the last one always
   * matches the latest state (a slow "closed" can never land after an "open"). A failing step is
   * tried again, logged each time, and — if it still fails — rejected here and retried every 2 s
   * in the background until it works: access is never left open quietly.
   */
  apply(): Promise<void> {
    const run = this.queue.then(() => this.bringInLine());
    this.queue = run.catch(() => this.retryLater());
    return run;
  }

  private async bringInLine(): Promise<void> {
    await this.context.modbus?.follow();
    const model = firewallFor(this.status(), {
      lanInterface: this.context.lanInterface,
      uiPorts: this.context.uiPorts,
      settings: this.context.settings(),
      modbusFilters: this.context.modbus?.redirects(),
    });
    const modelKey = JSON.stringify(model);
    if (modelKey === this.appliedKey) return;
    const closed = closedServices(this.applied, model);
    this.appliedKey = "";
    await this.tried("the firewall", () => this.firewall.apply(model));
    this.applied = model;
    this.appliedKey = modelKey;
    if (closed.length)
      await this.tried("connection tracking", () => this.firewall.forgetFlows(closed));
  }

  private async tried(what: string, step: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await step();
        if (attempt > 1) this.log("info", `${what}: set after ${attempt} attempts`);
        return;
      } catch (error) {
        this.log(
          "error",
          `${what}: ${(error as Error).message} (attempt ${attempt} of ${ATTEMPTS})`,
        );
        if (attempt >= ATTEMPTS) throw error;
        await Bun.sleep(100 * attempt);
      }
    }
  }

  private retryLater(): void {
    if (this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      // Failures are logged in bringInLine; the next one schedules the next retry.
      void this.apply().catch(() => {});
    }, RETRY_MS);
  }

  stop(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
  }
}
