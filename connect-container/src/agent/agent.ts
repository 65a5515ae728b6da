// The gateway agent, the face ui/ and main.ts use: it joins the data channel (Connect and
// Disconnect), the control channel's loops, the firewall and the SSH server that follow the status
// and the platform's signed settings, and the intake of enrollment bundles, around one status.
import type { HttpProxy } from "@meetpoint/common";
import type { ControlPort, WindowsPort } from "../control/client.ts";
import { checkBundle, type ImportResult } from "../enrollment/import.ts";
import type { FirewallPort } from "../firewall/kernel.ts";
import type { SshPort } from "../ssh/server.ts";
import type { Store } from "../state/store.ts";
import type { VpnPort } from "../vpn/openvpn.ts";
import { ConsentRequests } from "./consent.ts";
import { ControlLoops, type PlatformContact } from "./control-loops.ts";
import { DataChannel } from "./data-channel.ts";
import { EnrollmentIntake } from "./enrollment-intake.ts";
import type { EventLog, Log } from "./events.ts";
import { FirewallSync } from "./firewall-sync.ts";
import { type GatewaySettings, GatewaySettingsIntake } from "./gateway-settings.ts";
import { ModbusSync } from "./modbus-sync.ts";
import { OperatorKeys } from "./operator-keys.ts";
import { SshSync } from "./ssh-sync.ts";
import { type AgentStatus, armed, initialStatus, nextStatus, type StatusEvent } from "./status.ts";
import { WindowArming } from "./window-arming.ts";

export interface AgentDeps {
  store: Store;
  events: EventLog;
  control: ControlPort;
  vpn: VpnPort;
  firewall: FirewallPort;
  ssh: SshPort;
  lanInterface: string;
  /** The LAN side's IPv4 addresses (where the SSH server listens). */
  lanAddresses: () => Promise<string[]>;
  /** The operator UI's TCP ports, opened on the WAN side only where the settings say so. */
  uiPorts: number[];
  /** The plant's HTTP proxy for OpenVPN (the control client has its own view of the same). */
  proxy?: () => HttpProxy | null;
  importDir: string | null;
  heartbeatMs: number;
  /** The request lamp's output file (MEETPOINT_REQUEST_LAMP_PATH); absent: no lamp. */
  lampPath?: string | null;
  /** The maintenance windows API for the operator UI (absent: the UI has no Windows page). */
  windowsApi?: WindowsPort;
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
  private readonly settingsIntake: GatewaySettingsIntake;
  private readonly sshSync: SshSync;
  private readonly modbus: ModbusSync;
  /** Arms the data channel at a maintenance window's start and disarms it at its end. */
  readonly windows: WindowArming;
  /** The operator's own SSH keys (operator UI), used while the platform allows them. */
  readonly operatorKeys: OperatorKeys;
  /** Requests waiting for the operator's Allow / Deny (consent screen, local API, lamp). */
  readonly consent: ConsentRequests;

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
    this.settingsIntake = new GatewaySettingsIntake({
      store: deps.store,
      applied: () => void applyFirewall().catch(() => {}),
      log,
      now,
    });
    const settings = () => this.settingsIntake.current();
    this.modbus = new ModbusSync({ status, report: () => this.loops.heartbeatNow(), log });
    this.firewall = new FirewallSync(
      deps.firewall,
      { lanInterface: deps.lanInterface, uiPorts: deps.uiPorts, settings, modbus: this.modbus },
      status,
      log,
    );
    this.sshSync = new SshSync({
      server: deps.ssh,
      store: deps.store,
      status,
      settings,
      lanAddresses: deps.lanAddresses,
      report: () => this.loops.heartbeatNow(),
      log,
    });
    deps.ssh.onEvent = (event) => this.sshSync.record(event);
    this.operatorKeys = new OperatorKeys({
      store: deps.store,
      settings,
      record: (event) => this.sshSync.record(event),
      applied: () => void this.sshSync.apply(),
      now,
    });
    // The firewall first (it closes before the SSH server re-binds), then the SSH server; a failing
    // SSH server is logged by its sync and never faults the data channel.
    const applyFirewall = async () => {
      try {
        await this.firewall.apply();
      } finally {
        void this.sshSync.apply();
      }
    };
    this.channel = new DataChannel({
      control: deps.control,
      vpn: deps.vpn,
      store: deps.store,
      status,
      update,
      applyFirewall,
      heartbeatNow: () => this.loops.heartbeatNow(),
      proxy: deps.proxy ?? (() => null),
      log,
      now,
    });
    this.consent = new ConsentRequests({
      control: deps.control,
      lampPath: deps.lampPath ?? null,
      heartbeatNow: () => this.loops.heartbeatNow(),
      log,
      now,
    });
    this.windows = new WindowArming({
      now,
      channelArmed: () => armed(this.current),
      connect: (by, windowId) => this.channel.connect(by, windowId),
      disconnect: (by, windowId) => this.channel.disconnect(by, null, true, windowId),
      kept: {
        load: () => deps.store.armedWindows(),
        save: (keys) => deps.store.saveArmedWindows(keys),
      },
      log,
    });
    this.loops = new ControlLoops({
      control: deps.control,
      consent: this.consent,
      store: deps.store,
      status,
      update,
      applyFirewall,
      channel: this.channel,
      openvpnVersion: () => this.openvpnVersion,
      settings: this.settingsIntake,
      ssh: this.sshSync,
      sshHostKey: () => deps.ssh.hostKey,
      modbus: this.modbus,
      windows: this.windows,
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

  /** The platform's signed settings in force (defaults until the first arrive) and their version. */
  get settings(): { body: GatewaySettings; version: number } {
    return { body: this.settingsIntake.current(), version: this.settingsIntake.version() };
  }

  /** The SSH server now: where it listens and its host key (null while off). */
  get ssh(): { listening: string[]; hostKey: string | null } {
    return { listening: this.deps.ssh.listening, hostKey: this.deps.ssh.hostKey };
  }

  /** Starts the loops. The gateway starts idle: after a restart only the operator arms it again. */
  async start(): Promise<void> {
    this.openvpnVersion = await this.deps.vpn.version();
    await this.firewall.apply().catch((error) => {
      this.current = { ...this.current, lastError: String(error.message ?? error) };
      this.log("error", String(error.message ?? error));
    });
    // The SSH server as the kept settings say (off by default), before anything else can reach it.
    await this.sshSync.apply();
    // The lamp starts off: no request is known before the first heartbeat.
    await this.consent.signal();
    this.log("info", "gateway started: idle until the operator presses Connect");
    this.loops.start();
    if (this.deps.importDir) this.intake.watch(this.deps.importDir);
  }

  async stop(): Promise<void> {
    this.loops.stop();
    this.windows.stop();
    this.channel.stop();
    this.intake.stop();
    await this.deps.vpn.stop();
    this.current = nextStatus(this.current, { type: "disconnect", error: null, at: this.now() });
    // Logged by the firewall sync; the tunnel is already down, so nothing passes either way.
    await this.firewall.apply().catch(() => {});
    this.firewall.stop();
    this.modbus.stop();
    await this.sshSync.stop();
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
    // The operator's Disconnect during a window stands: the window does not arm again.
    this.windows.released();
    return this.channel.disconnect(by, error, report);
  }

  /** The maintenance windows API for the operator UI; null when the agent has none. */
  get windowsApi(): WindowsPort | null {
    return this.deps.windowsApi ?? null;
  }

  /** Sends a heartbeat now instead of at the next interval. */
  heartbeatNow(): void {
    this.loops.heartbeatNow();
  }
}
