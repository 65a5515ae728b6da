// The gateway agent, the face ui/ and main.ts use: it joins the data channel (Connect and
// Disconnect), the control channel's loops, the firewall that follows the status and the intake
// of enrollment bundles, around one status.
import type { ControlPort } from "../control/client.ts";
import { checkBundle, type ImportResult } from "../enrollment/import.ts";
import type { FirewallPort } from "../firewall/kernel.ts";
import type { Store } from "../state/store.ts";
import type { VpnPort } from "../vpn/openvpn.ts";
import { ControlLoops, type PlatformContact } from "./control-loops.ts";
import { DataChannel } from "./data-channel.ts";
import { EnrollmentIntake } from "./enrollment-intake.ts";
import type { EventLog, Log } from "./events.ts";
import { FirewallSync } from "./firewall-sync.ts";
import { type AgentStatus, armed, initialStatus, nextStatus, type StatusEvent } from "./status.ts";

export interface AgentDeps {
  store: Store;
  events: EventLog;
  control: ControlPort;
  vpn: VpnPort;
  firewall: FirewallPort;
  lanInterface: string;
  importDir: string | null;
  heartbeatMs: number;
  now?: () => Date;
}

export class Agent {
  openvpnVersion: string | null = null;
  private current: AgentStatus;
  private readonly now: () => Date;
  private readonly log: Log;
  private readonly firewall: FirewallSync;
  private readonly channel: DataChannel;
  private readonly loops: ControlLoops;
  private readonly intake: EnrollmentIntake;

  constructor(private readonly deps: AgentDeps) {
    const now = deps.now ?? (() => new Date());
    const log: Log = (level, text) => deps.events.add(level, text);
    const status = () => this.current;
    const update = (event: StatusEvent) => {
      this.current = nextStatus(this.current, event);
    };
    this.now = now;
    this.log = log;
    this.current = initialStatus(now());
    this.firewall = new FirewallSync(deps.firewall, deps.lanInterface, status, log);
    const applyFirewall = () => this.firewall.apply();
    this.channel = new DataChannel({
      control: deps.control,
      vpn: deps.vpn,
      store: deps.store,
      status,
      update,
      applyFirewall,
      heartbeatNow: () => this.loops.heartbeatNow(),
      log,
      now,
    });
    this.loops = new ControlLoops({
      control: deps.control,
      store: deps.store,
      status,
      update,
      applyFirewall,
      channel: this.channel,
      openvpnVersion: () => this.openvpnVersion,
      heartbeatMs: deps.heartbeatMs,
      log,
      now,
    });
    this.intake = new EnrollmentIntake({
      store: deps.store,
      status,
      disconnect: (by, error, report) => this.channel.disconnect(by, error, report),
      enrolled: () => this.loops.enrolled(),
      log,
      now,
    });
  }

  /** What the operator sees: state, data channel, remote sessions, last error. */
  get status(): AgentStatus {
    return this.current;
  }

  /** The last exchange with the platform; null before the first heartbeat. */
  get contact(): PlatformContact | null {
    return this.loops.contact;
  }

  get enrollment() {
    return this.deps.store.enrollment();
  }

  /** Starts the loops. The gateway starts idle: after a restart only the operator arms it again. */
  async start(): Promise<void> {
    this.openvpnVersion = await this.deps.vpn.version();
    await this.firewall.apply().catch((error) => {
      this.current = { ...this.current, lastError: String(error.message ?? error) };
      this.log("error", String(error.message ?? error));
    });
    this.log("info", "gateway started: idle until the operator presses Connect");
    this.loops.start();
    if (this.deps.importDir) this.intake.watch(this.deps.importDir);
  }

  async stop(): Promise<void> {
    this.loops.stop();
    this.channel.stop();
    this.intake.stop();
    await this.deps.vpn.stop();
    this.current = nextStatus(this.current, { type: "disconnect", error: null, at: this.now() });
    // Logged by the firewall sync; the tunnel is already down, so nothing passes either way.
    await this.firewall.apply().catch(() => {});
    this.firewall.stop();
  }

  /** Verifies a bundle without importing it: what it would enroll this gateway as, or why not. */
  checkBundle(text: string): Promise<ImportResult> {
    return checkBundle(this.deps.store, text, this.now());
  }

  /** Imports a bundle (upload or import directory); the previous enrollment stays on any failure. */
  importBundle(text: string, source: string): Promise<ImportResult> {
    return this.intake.importBundle(text, source);
  }

  /** The operator (UI or local API) allows remote access: request and start a data channel. */
  async connect(by: string): Promise<{ ok: boolean; message: string }> {
    // Pressed while the agent believes it is armed, Connect must not be lost to a close the
    // platform already decided (a technician's Disconnect in flight): ask the platform first, so
    // such a close is applied — and then this Connect re-arms, as the operator asked, after it.
    if (armed(this.current))
      await this.loops.beatOnce().catch((error) => {
        this.log("warn", `Connect: the platform could not be asked first: ${error.message}`);
      });
    return this.channel.connect(by);
  }

  /**
   * Ends remote access: stops the tunnel within a second and closes the firewall. `error` says why
   * when the platform ended it; `report` tells the platform (the operator's own Disconnect).
   */
  disconnect(by: string, error: string | null, report = true): Promise<void> {
    return this.channel.disconnect(by, error, report);
  }

  /** Sends a heartbeat now instead of at the next interval. */
  heartbeatNow(): void {
    this.loops.heartbeatNow();
  }
}
