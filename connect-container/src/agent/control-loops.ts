// The control channel's two loops: the heartbeat (the gateway's state and SSH log up; the remote and
// maintenance sessions, the data channel's fate and the signed settings down) and the command
// long-poll (signed commands such as a Disconnect).
import type { HeartbeatResponse } from "@meetpoint/common";
import type { ControlPort } from "../control/client.ts";
import type { Store } from "../state/store.ts";
import { Backoff } from "./backoff.ts";
import type { ConsentRequests } from "./consent.ts";
import type { DataChannel } from "./data-channel.ts";
import { acceptVersion, verifyFromPlatform } from "./envelopes.ts";
import type { Log } from "./events.ts";
import type { GatewaySettingsIntake } from "./gateway-settings.ts";
import type { ModbusSync } from "./modbus-sync.ts";
import type { SshSync } from "./ssh-sync.ts";
import { type AgentStatus, armed, type StatusEvent } from "./status.ts";
import type { WindowArming } from "./window-arming.ts";

export const AGENT_VERSION = "0.1.0";

/** What this agent declares to the platform (common/src/control/contract.ts AGENT_CAPABILITIES). */
export const CAPABILITIES = ["modbus-read-only", "consent-requests", "maintenance-windows"];

/** How long the platform holds a command long-poll, in seconds. */
const LONG_POLL_SECONDS = 25;
/** The longest wait a platform's Retry-After may impose, in milliseconds. */
const MAX_RETRY_AFTER_MS = 120_000;

/**
 * The wait before the next try after `error`: the back-off's, or longer when the platform asked
 * for it (Retry-After of a 429 or 503, at most 2 min) — a platform that sheds load is not
 * hammered back.
 */
export function waitAfter(error: unknown, backoffMs: number): number {
  const asked = (error as { retryAfterMs?: number | null }).retryAfterMs ?? null;
  return asked === null ? backoffMs : Math.max(backoffMs, Math.min(asked, MAX_RETRY_AFTER_MS));
}

/**
 * The interval to the next heartbeat: `ms` ± 10 %, drawn anew each cycle, so that gateways lined
 * up by one stall of the platform (or a restart) spread out again instead of beating together.
 */
export function jittered(ms: number, random: () => number = Math.random): number {
  return Math.round(ms * (0.9 + random() * 0.2));
}

/** The last exchange with the platform, for the UI and the diagnostics. */
export interface PlatformContact {
  at: Date;
  ok: boolean;
  error: string | null;
  /** Platform clock minus local clock, from the last heartbeat answer, in milliseconds. */
  clockOffsetMs: number | null;
}

export interface ControlLoopsDeps {
  control: Pick<ControlPort, "heartbeat" | "commands">;
  store: Pick<Store, "enrollment" | "versions" | "saveVersions">;
  status: () => AgentStatus;
  update: (event: StatusEvent) => void;
  /** Brings the firewall in line with the status. */
  applyFirewall: () => Promise<void>;
  /** Where the platform's word about the data channel goes. */
  channel: Pick<DataChannel, "disconnect" | "fault">;
  openvpnVersion: () => string | null;
  /** Where the signed settings of a heartbeat answer go. */
  settings: Pick<GatewaySettingsIntake, "receive" | "version">;
  /** SSH events to report, and the SSH server's host key. */
  ssh: Pick<SshSync, "pending" | "reported">;
  sshHostKey: () => string | null;
  /** The read-only Modbus filter's counts per session, to report. */
  modbus: Pick<ModbusSync, "pending" | "reported">;
  /** Where the requests waiting for the operator go (consent screen, local API, lamp). */
  consent: Pick<ConsentRequests, "receive" | "signal">;
  /** Where the maintenance windows of a heartbeat answer go (they arm and disarm the channel). */
  windows?: Pick<WindowArming, "receive">;
  /** Interval between heartbeats, in milliseconds. */
  heartbeatMs: number;
  log: Log;
  now: () => Date;
}

export class ControlLoops {
  contact: PlatformContact | null = null;
  private cursor = 0;
  private stopped = false;
  private heartbeatTimer: Timer | null = null;
  private readonly commandAbort = new AbortController();
  private readonly heartbeatBackoff = new Backoff();

  constructor(private readonly deps: ControlLoopsDeps) {}

  private get status(): AgentStatus {
    return this.deps.status();
  }

  start(): void {
    void this.heartbeatLoop();
    void this.commandLoop();
  }

  stop(): void {
    this.stopped = true;
    this.commandAbort.abort();
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
  }

  /** Sends a heartbeat now instead of at the next interval. */
  heartbeatNow(): void {
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = setTimeout(() => void this.heartbeatLoop(), 0);
  }

  /**
   * One heartbeat now, awaited: what the platform says of the data channel is applied before this
   * resolves. Rejects when the platform cannot be reached.
   */
  async beatOnce(): Promise<void> {
    if (this.deps.store.enrollment()) await this.heartbeat();
  }

  /** A new enrollment: its commands are read from the start, and a heartbeat goes out now. */
  enrolled(): void {
    this.cursor = 0;
    this.heartbeatNow();
  }

  private async heartbeatLoop(): Promise<void> {
    if (this.stopped) return;
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    let delay = jittered(this.deps.heartbeatMs);
    if (this.deps.store.enrollment()) {
      try {
        await this.heartbeat();
        this.heartbeatBackoff.reset();
      } catch (error) {
        delay = waitAfter(error, Math.min(this.deps.heartbeatMs, this.heartbeatBackoff.next()));
        const message = (error as Error).message;
        if (this.contact?.ok !== false || this.contact.error !== message)
          this.deps.log("warn", `control channel: ${message}`);
        this.contact = {
          at: this.deps.now(),
          ok: false,
          error: message,
          clockOffsetMs: this.contact?.clockOffsetMs ?? null,
        };
        // Without the platform's word the lamp still goes off when the known requests expire.
        await this.deps.consent.signal();
      }
    }
    if (!this.stopped) this.heartbeatTimer = setTimeout(() => void this.heartbeatLoop(), delay);
  }

  private async heartbeat(): Promise<void> {
    const sent = this.deps.now();
    const sshEvents = this.deps.ssh.pending();
    const modbusEvidence = this.deps.modbus.pending();
    const answer: HeartbeatResponse = await this.deps.control.heartbeat({
      state: this.status.state,
      gatewaySessionId: this.status.gatewaySessionId,
      agentVersion: AGENT_VERSION,
      openvpnVersion: this.deps.openvpnVersion(),
      localTime: sent.toISOString(),
      lastError: this.status.lastError,
      settingsVersion: this.deps.settings.version(),
      sshHostKey: this.deps.sshHostKey(),
      sshEvents,
      capabilities: CAPABILITIES,
      modbusEvidence,
    });
    this.deps.ssh.reported(sshEvents.length);
    this.deps.modbus.reported(modbusEvidence);
    const received = this.deps.now();
    const midpoint = (sent.getTime() + received.getTime()) / 2;
    if (this.contact?.ok === false)
      this.deps.log("info", "control channel: the platform answers again");
    this.contact = {
      at: received,
      ok: true,
      error: null,
      clockOffsetMs: Math.round(new Date(answer.serverTime).getTime() - midpoint),
    };
    await this.deps.settings.receive(answer.settings);
    await this.deps.consent.receive(answer.pendingRequests ?? []);
    // Arming for a window must not wait for this heartbeat's end (Connect asks the platform again).
    void this.deps.windows?.receive(answer.maintenanceWindows);
    const channel = answer.dataChannel;
    const mine = channel && channel.gatewaySessionId === this.status.gatewaySessionId;
    if (mine && channel.state === "closed" && armed(this.status)) {
      if (channel.operatorMustReconnect) {
        await this.deps.channel.disconnect("platform", channel.closeReason, false);
        return;
      }
      if (this.status.state === "online")
        await this.deps.channel.fault(
          `the platform closed the data channel (${channel.closeReason})`,
        );
      return;
    }
    this.deps.update({
      type: "sessions",
      remoteSessions: mine ? answer.remoteSessions : [],
      maintenanceSessions: mine ? answer.maintenanceSessions : [],
    });
    await this.deps
      .applyFirewall()
      .catch((error) => void this.deps.channel.fault((error as Error).message));
  }

  private async commandLoop(): Promise<void> {
    const backoff = new Backoff();
    while (!this.stopped) {
      if (!this.deps.store.enrollment()) {
        await Bun.sleep(1000);
        continue;
      }
      try {
        const answer = await this.deps.control.commands(
          this.cursor,
          LONG_POLL_SECONDS,
          this.commandAbort.signal,
        );
        backoff.reset();
        this.cursor = answer.cursor;
        for (const token of answer.commands) await this.command(token);
      } catch (error) {
        if (this.stopped) return;
        // The heartbeat reports the platform's reachability; this loop only waits and retries.
        await Bun.sleep(waitAfter(error, backoff.next()));
      }
    }
  }

  private async command(token: string): Promise<void> {
    const enrollment = this.deps.store.enrollment();
    if (!enrollment) return;
    const verified = await verifyFromPlatform(
      this.deps.store,
      enrollment,
      "command",
      token,
      this.deps.now(),
    );
    if (!verified.ok) {
      this.deps.log("warn", `command refused: ${verified.reason}`);
      return;
    }
    acceptVersion(this.deps.store, "command", verified.claims.version);
    const { command, reason, gatewaySessionId } = verified.claims.body;
    if (command === "disconnect") {
      if (
        armed(this.status) &&
        (gatewaySessionId === null || gatewaySessionId === this.status.gatewaySessionId)
      )
        await this.deps.channel.disconnect("platform", reason, false);
      return;
    }
    this.heartbeatNow();
  }
}
