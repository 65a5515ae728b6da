// The operator's Connect and Disconnect and the data channel that follows them: a verified
// configuration from the platform, the OpenVPN tunnel, and after a fault a new data channel once
// the back-off has passed.
import { type HttpProxy, parseConfig, proxyName } from "@meetpoint/common";
import { ControlError, type ControlPort } from "../control/client.ts";
import type { Store } from "../state/store.ts";
import type { VpnPort } from "../vpn/openvpn.ts";
import { Backoff } from "./backoff.ts";
import { acceptVersion, verifyFromPlatform } from "./envelopes.ts";
import type { Log } from "./events.ts";
import { type AgentStatus, armed, type StatusEvent } from "./status.ts";

/** How long a Connect may take from the platform's answer to a running tunnel. */
const TUNNEL_TIMEOUT_MS = 30_000;

export interface DataChannelDeps {
  control: Pick<ControlPort, "dataChannel" | "disconnect">;
  vpn: Pick<VpnPort, "start" | "stop">;
  store: Pick<Store, "enrollment" | "versions" | "saveVersions">;
  status: () => AgentStatus;
  update: (event: StatusEvent) => void;
  /** Brings the firewall in line with the status. */
  applyFirewall: () => Promise<void>;
  /** Sends a heartbeat now, so the platform learns of a tunnel that came up. */
  heartbeatNow: () => void;
  /** The plant's HTTP proxy, asked at every Connect; null: the platform is reached directly. */
  proxy: () => HttpProxy | null;
  log: Log;
  now: () => Date;
}

export class DataChannel {
  private stopped = false;
  private retryTimer: Timer | null = null;
  private tunnelTimer: Timer | null = null;
  private readonly backoff = new Backoff();
  /** Counts data-channel attempts; callbacks of older ones are ignored. */
  private attempt = 0;
  /** The maintenance window that armed the channel (kept for retries after a fault); null: the operator. */
  private armingWindow: string | null = null;

  constructor(private readonly deps: DataChannelDeps) {}

  private get status(): AgentStatus {
    return this.deps.status();
  }

  /**
   * The operator (UI or local API) allows remote access: request and start a data channel. With
   * `windowId` the agent arms by itself at that maintenance window's start (the platform audits it).
   */
  async connect(by: string, windowId?: string): Promise<{ ok: boolean; message: string }> {
    if (!this.deps.store.enrollment())
      return {
        ok: false,
        message: "Import the enrollment bundle first: this gateway is not enrolled.",
      };
    if (armed(this.status)) return { ok: true, message: `Already ${this.status.state}.` };
    this.deps.update({ type: "connect", by, at: this.deps.now() });
    this.armingWindow = windowId ?? null;
    this.backoff.reset();
    this.deps.log("info", windowId ? `Connect (${by} ${windowId})` : `Connect pressed (${by})`);
    void this.establish(null, windowId);
    return { ok: true, message: "Connecting…" };
  }

  /**
   * Ends remote access: stops the tunnel within a second and closes the firewall. `error` says why
   * when the platform ended it; `report` tells the platform (the operator's own Disconnect).
   */
  async disconnect(
    by: string,
    error: string | null,
    report = true,
    windowId?: string,
  ): Promise<void> {
    const was = this.status.state;
    const channel = this.status.gatewaySessionId;
    const attempt = ++this.attempt;
    this.deps.update({ type: "disconnect", error, at: this.deps.now() });
    this.clearTimers();
    // The firewall first: nothing passes from this instant, whatever OpenVPN is still doing.
    await this.deps.applyFirewall().catch((e) => this.deps.log("error", String(e.message ?? e)));
    this.deps.log(error ? "warn" : "info", `Disconnect (${by})${error ? `: ${error}` : ""}`);
    // Tell the platform before the tunnel drops, so it records the operator's reason rather than a
    // lost gateway — but never wait long for it: OpenVPN stops within the second regardless.
    const told =
      report && was !== "idle" && this.deps.store.enrollment()
        ? this.deps.control
            .disconnect(channel, windowId)
            .catch((e) =>
              this.deps.log(
                "warn",
                `the platform could not be told of the Disconnect: ${e.message}`,
              ),
            )
        : Promise.resolve();
    await Promise.race([told, Bun.sleep(300)]);
    // A Connect pressed meanwhile owns the tunnel now (starting it stops the old process).
    if (attempt === this.attempt) await this.deps.vpn.stop();
    await told;
  }

  /** Something broke while armed: tunnel down, firewall closed, a new data channel after back-off. */
  async fault(error: string): Promise<void> {
    if (this.tunnelTimer) clearTimeout(this.tunnelTimer);
    if (!armed(this.status) || this.stopped) return;
    const lost = this.status.gatewaySessionId;
    const delay = this.backoff.next();
    this.deps.update({
      type: "fault",
      error,
      retryAt: new Date(this.deps.now().getTime() + delay),
      at: this.deps.now(),
    });
    this.deps.log("warn", `${error} — trying again in ${Math.round(delay / 1000)} s`);
    const attempt = this.attempt;
    // A failed close is logged and retried by the firewall sync; stopping the tunnel below takes
    // the tun device, and with it every forwarding rule, away regardless.
    await this.deps.applyFirewall().catch(() => {});
    if (attempt === this.attempt) await this.deps.vpn.stop();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.status.state !== "reconnecting") return;
      this.deps.update({ type: "retry", at: this.deps.now() });
      void this.establish(lost, this.armingWindow ?? undefined);
    }, delay);
  }

  /** No new attempts from now on (the agent stops); the tunnel itself is stopped by the caller. */
  stop(): void {
    this.stopped = true;
    this.clearTimers();
  }

  private clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.tunnelTimer) clearTimeout(this.tunnelTimer);
  }

  private async establish(reconnectOf: string | null, windowId?: string): Promise<void> {
    const enrollment = this.deps.store.enrollment();
    if (!enrollment || !armed(this.status) || this.stopped) return;
    // One rule for both channels: with a proxy, OpenVPN goes through it too — over TCP only.
    const proxy = this.deps.proxy();
    const through = (reason: string) =>
      proxy ? `${reason} (through the proxy ${proxyName(proxy)})` : reason;
    try {
      const issued = await this.deps.control.dataChannel(
        reconnectOf,
        proxy ? "tcp" : "any",
        windowId,
      );
      const verified = await verifyFromPlatform(
        this.deps.store,
        enrollment,
        "data-channel",
        issued.envelope,
        this.deps.now(),
      );
      if (!verified.ok) throw new Error(`data-channel configuration refused: ${verified.reason}`);
      if (verified.claims.body.gatewaySessionId !== issued.gatewaySessionId)
        throw new Error("data-channel configuration refused: it names another data channel");
      acceptVersion(this.deps.store, "data-channel", verified.claims.version);
      if (proxy && !tcpOnly(verified.claims.body.profile))
        throw new Error(
          `the platform offered OpenVPN over UDP, which the proxy ${proxyName(proxy)} cannot carry: the platform needs an OpenVPN server on TCP (MEETPOINT_VPN_LISTEN)`,
        );
      if (!armed(this.status)) return; // Disconnect pressed meanwhile.
      this.deps.update({
        type: "channel",
        gatewaySessionId: issued.gatewaySessionId,
        at: this.deps.now(),
      });
      this.tunnelTimer = setTimeout(
        () =>
          void this.fault(`the data channel did not come up within ${TUNNEL_TIMEOUT_MS / 1000} s`),
        TUNNEL_TIMEOUT_MS,
      );
      // Callbacks of this attempt only: a tunnel from an earlier Connect must not act on this one.
      const attempt = ++this.attempt;
      await this.deps.vpn.start(
        verified.claims.body.profile,
        {
          up: (address) => {
            if (attempt === this.attempt) void this.tunnelUp(address);
          },
          down: (reason) => {
            if (attempt === this.attempt) void this.fault(through(reason));
          },
        },
        { httpProxy: proxy },
      );
    } catch (error) {
      // The platform refuses to reconnect a channel it closed for good: only the operator re-arms.
      // A window that is not open (any more) arms nothing: no retry as if the operator had asked.
      if (error instanceof ControlError && error.status === 409 && (reconnectOf || windowId)) {
        await this.disconnect("platform", error.message, false);
        return;
      }
      await this.fault(error instanceof Error ? error.message : String(error));
    }
  }

  private async tunnelUp(address: string): Promise<void> {
    if (this.tunnelTimer) clearTimeout(this.tunnelTimer);
    if (this.status.state !== "connecting") return;
    this.deps.update({ type: "tunnel-up", address, at: this.deps.now() });
    this.backoff.reset();
    try {
      await this.deps.applyFirewall();
    } catch (error) {
      await this.fault((error as Error).message);
      return;
    }
    this.deps.log("info", "online: the data channel to the platform is up");
    this.deps.heartbeatNow();
  }
}

/** Whether every server a profile names is reached over TCP (what an HTTP proxy can carry). */
export function tcpOnly(profile: string): boolean {
  const remotes = parseConfig(profile).directives.filter((d) => d.name === "remote");
  return remotes.length > 0 && remotes.every((r) => /^tcp/.test(r.args[2] ?? ""));
}
