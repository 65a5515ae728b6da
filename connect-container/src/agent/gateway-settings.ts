// The platform's signed settings for this gateway (SSH maintenance server, operator UI reach):
// verified like every envelope (signature, audience, validity, a version that only grows), kept on
// the state volume, applied at once and again at every start. Until the first arrives, the
// defaults hold: SSH off, operator UI on the machine network only.
import { claimedVersion, type EnvelopeBody } from "@meetpoint/common";
import type { Store } from "../state/store.ts";
import { acceptVersion, verifyFromPlatform } from "./envelopes.ts";
import type { Log } from "./events.ts";

export type GatewaySettings = EnvelopeBody<"gateway-settings">;

/** What holds before the platform ever sent settings. */
export function defaultSettings(gatewayId: string): GatewaySettings {
  return {
    gatewayId,
    ssh: { enabled: false, authorizedKeys: [], operatorKeys: false },
    operatorUi: { reach: "lan" },
  };
}

export interface GatewaySettingsIntakeDeps {
  store: Pick<Store, "enrollment" | "versions" | "saveVersions" | "settings" | "saveSettings">;
  /** Called after new settings were accepted: firewall and SSH server follow them. */
  applied: () => void;
  log: Log;
  now: () => Date;
}

export class GatewaySettingsIntake {
  /** The envelope looked at last: the heartbeat brings the same one every time. */
  private seen: string | null = null;

  constructor(private readonly deps: GatewaySettingsIntakeDeps) {}

  /** The settings in force: the newest accepted, or the defaults. */
  current(): GatewaySettings {
    const accepted = this.deps.store.settings();
    const gatewayId = this.deps.store.enrollment()?.body.gatewayId ?? "";
    return accepted && accepted.body.gatewayId === gatewayId
      ? accepted.body
      : defaultSettings(gatewayId);
  }

  /** Version of the settings in force; 0 for the defaults. */
  version(): number {
    return this.deps.store.settings()?.version ?? 0;
  }

  /**
   * Takes the settings envelope of a heartbeat answer: a newer one is verified, kept and applied; the
   * one in force again is ignored; anything else is refused and logged with the reason.
   */
  async receive(token: string | null): Promise<void> {
    const enrollment = this.deps.store.enrollment();
    if (!token || token === this.seen || !enrollment) return;
    this.seen = token;
    if (claimedVersion(token) === this.version()) return;
    const verified = await verifyFromPlatform(
      this.deps.store,
      enrollment,
      "gateway-settings",
      token,
      this.deps.now(),
    );
    if (!verified.ok) {
      this.deps.log("warn", `gateway settings refused: ${verified.reason}`);
      return;
    }
    const { body, version } = verified.claims;
    if (body.gatewayId !== enrollment.body.gatewayId) {
      this.deps.log("warn", "gateway settings refused: they name another gateway");
      return;
    }
    acceptVersion(this.deps.store, "gateway-settings", version);
    this.deps.store.saveSettings({ body, version, acceptedAt: this.deps.now().toISOString() });
    this.deps.log(
      "info",
      `gateway settings version ${version} from the platform: SSH ${body.ssh.enabled ? "on" : "off"} (${body.ssh.authorizedKeys.length} platform keys, operator keys ${body.ssh.operatorKeys ? "allowed" : "not allowed"}), operator UI on ${body.operatorUi.reach === "lan" ? "the machine network only" : "the machine network and the WAN side"}`,
    );
    this.deps.applied();
  }
}
