// Keeps the maintenance SSH server in line with the signed settings and the status: on or off, the
// keys it accepts (the platform's, and the operator's where the platform allows them), and where
// it listens — the LAN side always, the tunnel address only during a maintenance session. Its
// events go to the event log and, with the next heartbeat, to the platform's audit log.
import type { Runner, SshEvent } from "@meetpoint/common";
import type { SshDesired, SshPort } from "../ssh/server.ts";
import type { Store } from "../state/store.ts";
import type { Log } from "./events.ts";
import type { GatewaySettings } from "./gateway-settings.ts";
import type { AgentStatus } from "./status.ts";

/** Most SSH events kept for the platform while it cannot be reached (the oldest go first). */
const MAX_PENDING_EVENTS = 1000;

/** Whether the tunnel may reach the gateway's SSH port now (pure). */
export function maintenanceOpen(status: AgentStatus, settings: GatewaySettings): boolean {
  return (
    settings.ssh.enabled &&
    status.state === "online" &&
    status.tunnelAddress !== null &&
    status.maintenanceSessions.length > 0
  );
}

/** The keys the SSH server accepts (pure). */
export function acceptedKeys(settings: GatewaySettings, operatorKeys: { key: string }[]): string[] {
  const platform = settings.ssh.authorizedKeys.map((k) => k.key);
  return settings.ssh.operatorKeys ? [...platform, ...operatorKeys.map((k) => k.key)] : platform;
}

/** IPv4 addresses of interface `name` (ip -j addr), empty when it has none or does not exist. */
export async function interfaceAddresses(run: Runner, name: string): Promise<string[]> {
  const result = await run(["ip", "-j", "-4", "addr", "show", "dev", name], { timeoutMs: 5000 });
  if (result.code !== 0) return [];
  try {
    const links = JSON.parse(result.stdout) as { addr_info?: { local?: string }[] }[];
    return links.flatMap((l) => (l.addr_info ?? []).map((a) => a.local ?? "")).filter(Boolean);
  } catch {
    return [];
  }
}

export interface SshSyncDeps {
  server: SshPort;
  store: Pick<Store, "operatorSshKeys" | "pendingSshEvents" | "savePendingSshEvents">;
  status: () => AgentStatus;
  settings: () => GatewaySettings;
  /** The LAN side's IPv4 addresses now. */
  lanAddresses: () => Promise<string[]>;
  /** A heartbeat soon, to report new events. */
  report: () => void;
  log: Log;
}

export class SshSync {
  private queue: Promise<void> = Promise.resolve();
  private lastError: string | null = null;
  /** What was applied last with success; applied again only when it changes or the server died. */
  private applied = "";

  constructor(private readonly deps: SshSyncDeps) {}

  /** What the server should do now. */
  async desired(): Promise<SshDesired> {
    const settings = this.deps.settings();
    const status = this.deps.status();
    const addresses = settings.ssh.enabled ? await this.deps.lanAddresses() : [];
    if (maintenanceOpen(status, settings) && status.tunnelAddress)
      addresses.push(status.tunnelAddress);
    return {
      enabled: settings.ssh.enabled,
      keys: acceptedKeys(settings, this.deps.store.operatorSshKeys()),
      addresses,
    };
  }

  /** Applies the desired state; runs one after another; failures are logged, never thrown. */
  apply(): Promise<void> {
    this.queue = this.queue.then(async () => {
      try {
        const desired = await this.desired();
        const key = JSON.stringify(desired);
        const running = !desired.enabled || this.deps.server.listening.length > 0;
        if (key === this.applied && running) return;
        this.applied = "";
        await this.deps.server.apply(desired);
        this.applied = key;
        if (this.lastError) this.deps.log("info", "SSH server: as the settings say again");
        this.lastError = null;
      } catch (error) {
        const message = (error as Error).message;
        if (message !== this.lastError) this.deps.log("error", message);
        this.lastError = message;
      }
    });
    return this.queue;
  }

  /** An SSH event: into the event log now, and kept for the platform until a heartbeat takes it. */
  record(event: SshEvent): void {
    const who = event.user ? `${event.user} ` : "";
    const text =
      event.kind === "login"
        ? `SSH login: ${who}from ${event.from} with key ${event.fingerprint}`
        : event.kind === "failed"
          ? `SSH attempt refused: ${who}from ${event.from}: ${event.detail}`
          : `SSH key ${event.kind === "local-key-added" ? "added" : "removed"} by the operator: ${event.fingerprint} (${event.detail})`;
    this.deps.log(event.kind === "failed" ? "warn" : "info", text);
    const pending = [...this.deps.store.pendingSshEvents(), event];
    const dropped = pending.length - MAX_PENDING_EVENTS;
    if (dropped > 0)
      this.deps.log(
        "warn",
        `SSH events: ${dropped} older ones dropped before the platform got them`,
      );
    this.deps.store.savePendingSshEvents(pending.slice(Math.max(0, dropped)));
    this.deps.report();
  }

  /** Up to 100 events for the next heartbeat. */
  pending(): SshEvent[] {
    return this.deps.store.pendingSshEvents().slice(0, 100);
  }

  /** The platform took the first `count` pending events. */
  reported(count: number): void {
    if (count > 0)
      this.deps.store.savePendingSshEvents(this.deps.store.pendingSshEvents().slice(count));
  }

  stop(): Promise<void> {
    return this.queue.then(() => this.deps.server.stop());
  }
}
