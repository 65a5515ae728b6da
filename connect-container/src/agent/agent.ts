// The gateway agent: enrollment, the control channel's loops (heartbeat, commands), the operator's
// Connect and Disconnect, the data channel and the firewall that follows it.
import { mkdirSync } from "node:fs";
import { type HeartbeatResponse, verifyEnvelope } from "@meetpoint/common";
import { ControlError, type ControlPort } from "../control/client.ts";
import { type ImportResult, importBundle } from "../enrollment/import.ts";
import { scanImportDir } from "../enrollment/watch.ts";
import type { FirewallPort } from "../firewall/kernel.ts";
import type { ForwardedService } from "../firewall/ruleset.ts";
import type { Store } from "../state/store.ts";
import { TUNNEL_DEVICE, type VpnPort } from "../vpn/openvpn.ts";
import { Backoff } from "./backoff.ts";
import type { EventLog } from "./events.ts";
import { type AgentStatus, armed, initialStatus, nextStatus, type StatusEvent } from "./status.ts";

export const AGENT_VERSION = "0.1.0";

/** How long a Connect may take from the platform's answer to a running tunnel. */
const TUNNEL_TIMEOUT_MS = 30_000;
/** How long the platform holds a command long-poll, in seconds. */
const LONG_POLL_SECONDS = 25;

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

/** The last exchange with the platform, for the UI and the diagnostics. */
export interface PlatformContact {
  at: Date;
  ok: boolean;
  error: string | null;
  /** Platform clock minus local clock, from the last heartbeat answer, in milliseconds. */
  clockOffsetMs: number | null;
}

export class Agent {
  status: AgentStatus;
  contact: PlatformContact | null = null;
  openvpnVersion: string | null = null;
  private readonly now: () => Date;
  private cursor = 0;
  private stopped = false;
  private retryTimer: Timer | null = null;
  private tunnelTimer: Timer | null = null;
  private heartbeatTimer: Timer | null = null;
  private importTimer: Timer | null = null;
  private commandAbort = new AbortController();
  private readonly heartbeatBackoff = new Backoff();
  private readonly connectBackoff = new Backoff();
  private readonly seenImports = new Set<string>();
  private appliedRules = "";
  private firewallQueue: Promise<void> = Promise.resolve();
  /** Counts data-channel attempts; callbacks of older ones are ignored. */
  private attempt = 0;

  constructor(private readonly deps: AgentDeps) {
    this.now = deps.now ?? (() => new Date());
    this.status = initialStatus(this.now());
  }

  get enrollment() {
    return this.deps.store.enrollment();
  }

  private update(event: StatusEvent): void {
    this.status = nextStatus(this.status, event);
  }

  private log(level: "info" | "warn" | "error", text: string): void {
    this.deps.events.add(level, text);
  }

  /** Starts the loops. The gateway starts idle: after a restart only the operator arms it again. */
  async start(): Promise<void> {
    this.openvpnVersion = await this.deps.vpn.version();
    await this.applyFirewall().catch((error) => {
      this.status = { ...this.status, lastError: String(error.message ?? error) };
      this.log("error", String(error.message ?? error));
    });
    this.log("info", "gateway started: idle until the operator presses Connect");
    void this.heartbeatLoop();
    void this.commandLoop();
    if (this.deps.importDir) {
      const dir = this.deps.importDir;
      // Made here so the operator (or a mounted stick) finds where bundles go.
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const scan = async () => {
        await this.scanImports(dir);
        if (!this.stopped) this.importTimer = setTimeout(scan, 2000);
      };
      void scan();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.commandAbort.abort();
    for (const timer of [this.retryTimer, this.tunnelTimer, this.heartbeatTimer, this.importTimer])
      if (timer) clearTimeout(timer);
    await this.deps.vpn.stop();
    this.update({ type: "disconnect", error: null, at: this.now() });
    await this.applyFirewall().catch(() => {});
  }

  // ---- enrollment ------------------------------------------------------------------------------

  /** Imports a bundle (upload or import directory); the previous enrollment stays on any failure. */
  async importBundle(text: string, source: string): Promise<ImportResult> {
    const result = await importBundle(this.deps.store, text, this.now());
    if (!result.ok) {
      this.log("warn", `enrollment bundle from ${source} rejected: ${result.reason}`);
      return result;
    }
    const { body, version } = result.enrollment;
    this.log(
      "info",
      `enrollment bundle from ${source} imported: gateway ${body.gatewayId}, version ${version}, platform ${body.platformUrl}`,
    );
    if (!result.first && armed(this.status)) await this.disconnect("new enrollment", null, false);
    this.cursor = 0;
    this.heartbeatNow();
    return result;
  }

  private async scanImports(dir: string): Promise<void> {
    for (const found of scanImportDir(dir, this.seenImports)) {
      if ("ignored" in found)
        this.log(
          "warn",
          `import directory: ${JSON.stringify(found.name)} ignored: ${found.ignored}`,
        );
      else await this.importBundle(found.text, `import directory (${found.name})`);
    }
  }

  // ---- Connect and Disconnect ------------------------------------------------------------------

  /** The operator (UI or local API) allows remote access: request and start a data channel. */
  async connect(by: string): Promise<{ ok: boolean; message: string }> {
    if (!this.enrollment)
      return {
        ok: false,
        message: "Import the enrollment bundle first: this gateway is not enrolled.",
      };
    if (armed(this.status)) return { ok: true, message: `Already ${this.status.state}.` };
    this.update({ type: "connect", by, at: this.now() });
    this.connectBackoff.reset();
    this.log("info", `Connect pressed (${by})`);
    void this.establish(null);
    return { ok: true, message: "Connecting…" };
  }

  /**
   * Ends remote access: stops the tunnel within a second and closes the firewall. `error` says why
   * when the platform ended it; `report` tells the platform (the operator's own Disconnect).
   */
  async disconnect(by: string, error: string | null, report = true): Promise<void> {
    const was = this.status.state;
    const channel = this.status.gatewaySessionId;
    const attempt = ++this.attempt;
    this.update({ type: "disconnect", error, at: this.now() });
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.tunnelTimer) clearTimeout(this.tunnelTimer);
    // The firewall first: nothing passes from this instant, whatever OpenVPN is still doing.
    await this.applyFirewall().catch((e) => this.log("error", String(e.message ?? e)));
    this.log(error ? "warn" : "info", `Disconnect (${by})${error ? `: ${error}` : ""}`);
    // Tell the platform before the tunnel drops, so it records the operator's reason rather than a
    // lost gateway — but never wait long for it: OpenVPN stops within the second regardless.
    const told =
      report && was !== "idle" && this.enrollment
        ? this.deps.control
            .disconnect(channel)
            .catch((e) =>
              this.log("warn", `the platform could not be told of the Disconnect: ${e.message}`),
            )
        : Promise.resolve();
    await Promise.race([told, Bun.sleep(300)]);
    // A Connect pressed meanwhile owns the tunnel now (starting it stops the old process).
    if (attempt === this.attempt) await this.deps.vpn.stop();
    await told;
  }

  private async establish(reconnectOf: string | null): Promise<void> {
    const enrollment = this.enrollment;
    if (!enrollment || !armed(this.status) || this.stopped) return;
    try {
      const issued = await this.deps.control.dataChannel(reconnectOf);
      const versions = this.deps.store.versions();
      const verified = await verifyEnvelope(issued.envelope, {
        kind: "data-channel",
        key: enrollment.body.signingKey,
        audience: enrollment.body.gatewayId,
        lastVersion: versions["data-channel"] ?? 0,
        now: this.now(),
      });
      if (!verified.ok) throw new Error(`data-channel configuration refused: ${verified.reason}`);
      if (verified.claims.body.gatewaySessionId !== issued.gatewaySessionId)
        throw new Error("data-channel configuration refused: it names another data channel");
      this.deps.store.saveVersions({ ...versions, "data-channel": verified.claims.version });
      if (!armed(this.status)) return; // Disconnect pressed meanwhile.
      this.update({ type: "channel", gatewaySessionId: issued.gatewaySessionId, at: this.now() });
      this.tunnelTimer = setTimeout(
        () =>
          void this.fault(`the data channel did not come up within ${TUNNEL_TIMEOUT_MS / 1000} s`),
        TUNNEL_TIMEOUT_MS,
      );
      // Callbacks of this attempt only: a tunnel from an earlier Connect must not act on this one.
      const attempt = ++this.attempt;
      await this.deps.vpn.start(verified.claims.body.profile, {
        up: (address) => {
          if (attempt === this.attempt) void this.tunnelUp(address);
        },
        down: (reason) => {
          if (attempt === this.attempt) void this.fault(reason);
        },
      });
    } catch (error) {
      if (error instanceof ControlError && error.status === 409 && reconnectOf) {
        await this.disconnect("platform", error.message, false);
        return;
      }
      await this.fault(error instanceof Error ? error.message : String(error));
    }
  }

  private async tunnelUp(address: string): Promise<void> {
    if (this.tunnelTimer) clearTimeout(this.tunnelTimer);
    if (this.status.state !== "connecting") return;
    this.update({ type: "tunnel-up", address, at: this.now() });
    this.connectBackoff.reset();
    try {
      await this.applyFirewall();
    } catch (error) {
      await this.fault((error as Error).message);
      return;
    }
    this.log("info", "online: the data channel to the platform is up");
    this.heartbeatNow();
  }

  /** Something broke while armed: tunnel down, firewall closed, a new data channel after back-off. */
  private async fault(error: string): Promise<void> {
    if (this.tunnelTimer) clearTimeout(this.tunnelTimer);
    if (!armed(this.status) || this.stopped) return;
    const lost = this.status.gatewaySessionId;
    const delay = this.connectBackoff.next();
    this.update({
      type: "fault",
      error,
      retryAt: new Date(this.now().getTime() + delay),
      at: this.now(),
    });
    this.log("warn", `${error} — trying again in ${Math.round(delay / 1000)} s`);
    const attempt = this.attempt;
    await this.applyFirewall().catch(() => {});
    if (attempt === this.attempt) await this.deps.vpn.stop();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.status.state !== "reconnecting") return;
      this.update({ type: "retry", at: this.now() });
      void this.establish(lost);
    }, delay);
  }

  // ---- firewall --------------------------------------------------------------------------------

  /** Services the firewall lets through: those of the platform's remote sessions, while online. */
  private forwarded(): ForwardedService[] {
    if (this.status.state !== "online") return [];
    return this.status.remoteSessions.flatMap((session) =>
      session.services.map((service) => ({
        proxyAddress: session.proxyAddress,
        lanAddress: session.lanAddress,
        protocol: service.protocol,
        port: service.port,
      })),
    );
  }

  /**
   * Brings the kernel in line with the status. Applies run one after another and each reads the
   * status when it runs, so the last one always matches the latest state (a slow "closed" can
   * never land after an "open").
   */
  private applyFirewall(): Promise<void> {
    const run = this.firewallQueue.then(async () => {
      const model = {
        lanInterface: this.deps.lanInterface,
        tunnelInterface: this.status.state === "online" ? TUNNEL_DEVICE : null,
        services: this.forwarded(),
      };
      const key = JSON.stringify(model);
      if (key === this.appliedRules) return;
      this.appliedRules = "";
      await this.deps.firewall.apply(model);
      this.appliedRules = key;
    });
    this.firewallQueue = run.catch(() => {});
    return run;
  }

  // ---- control channel loops -------------------------------------------------------------------

  /** Sends a heartbeat now instead of at the next interval. */
  heartbeatNow(): void {
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = setTimeout(() => void this.heartbeatLoop(), 0);
  }

  private async heartbeatLoop(): Promise<void> {
    if (this.stopped) return;
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    let delay = this.deps.heartbeatMs;
    if (this.enrollment) {
      try {
        await this.heartbeat();
        this.heartbeatBackoff.reset();
      } catch (error) {
        delay = Math.min(this.deps.heartbeatMs, this.heartbeatBackoff.next());
        const message = (error as Error).message;
        if (this.contact?.ok !== false || this.contact.error !== message)
          this.log("warn", `control channel: ${message}`);
        this.contact = {
          at: this.now(),
          ok: false,
          error: message,
          clockOffsetMs: this.contact?.clockOffsetMs ?? null,
        };
      }
    }
    if (!this.stopped) this.heartbeatTimer = setTimeout(() => void this.heartbeatLoop(), delay);
  }

  private async heartbeat(): Promise<void> {
    const sent = this.now();
    const answer: HeartbeatResponse = await this.deps.control.heartbeat({
      state: this.status.state,
      gatewaySessionId: this.status.gatewaySessionId,
      agentVersion: AGENT_VERSION,
      openvpnVersion: this.openvpnVersion,
      localTime: sent.toISOString(),
      lastError: this.status.lastError,
    });
    const received = this.now();
    const midpoint = (sent.getTime() + received.getTime()) / 2;
    if (this.contact?.ok === false) this.log("info", "control channel: the platform answers again");
    this.contact = {
      at: received,
      ok: true,
      error: null,
      clockOffsetMs: Math.round(new Date(answer.serverTime).getTime() - midpoint),
    };
    const channel = answer.dataChannel;
    const mine = channel && channel.gatewaySessionId === this.status.gatewaySessionId;
    if (mine && channel.state === "closed" && armed(this.status)) {
      if (channel.operatorMustReconnect) {
        await this.disconnect("platform", channel.closeReason, false);
        return;
      }
      if (this.status.state === "online")
        await this.fault(`the platform closed the data channel (${channel.closeReason})`);
      return;
    }
    this.update({
      type: "sessions",
      remoteSessions: mine ? answer.remoteSessions : [],
    });
    await this.applyFirewall().catch((error) => void this.fault((error as Error).message));
  }

  private async commandLoop(): Promise<void> {
    const backoff = new Backoff();
    while (!this.stopped) {
      if (!this.enrollment) {
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
      } catch {
        if (this.stopped) return;
        // The heartbeat reports the platform's reachability; this loop only waits and retries.
        await Bun.sleep(backoff.next());
      }
    }
  }

  private async command(token: string): Promise<void> {
    const enrollment = this.enrollment;
    if (!enrollment) return;
    const versions = this.deps.store.versions();
    const verified = await verifyEnvelope(token, {
      kind: "command",
      key: enrollment.body.signingKey,
      audience: enrollment.body.gatewayId,
      lastVersion: versions.command ?? 0,
      now: this.now(),
    });
    if (!verified.ok) {
      this.log("warn", `command refused: ${verified.reason}`);
      return;
    }
    this.deps.store.saveVersions({ ...versions, command: verified.claims.version });
    const { command, reason, gatewaySessionId } = verified.claims.body;
    if (command === "disconnect") {
      if (
        armed(this.status) &&
        (gatewaySessionId === null || gatewaySessionId === this.status.gatewaySessionId)
      )
        await this.disconnect("platform", reason, false);
      return;
    }
    this.heartbeatNow();
  }
}
