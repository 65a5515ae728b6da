// The firewall of demo mode (MEETPOINT_FIREWALL=dry-run), for trying the agent on a laptop: it
// renders the ruleset the kernel firewall would apply and keeps it for reading, but changes
// nothing on the host — so it protects nothing, which every page of the operator UI says.
import type { FirewallPort } from "./kernel.ts";
import { type ForwardedService, type GatewayFirewall, renderGatewayRuleset } from "./ruleset.ts";

export class RecordingFirewall implements FirewallPort {
  /** The ruleset the kernel firewall would have applied last, as nft text; null before the first. */
  lastRuleset: string | null = null;
  applied = 0;
  /** Flows the kernel firewall would have forgotten, as "proto proxy:port". */
  forgotten: string[] = [];

  constructor(private readonly log: (text: string) => void = () => {}) {}

  async apply(model: GatewayFirewall): Promise<void> {
    const ruleset = renderGatewayRuleset(model);
    this.applied++;
    // Said when it changes, not at every heartbeat.
    if (ruleset !== this.lastRuleset)
      this.log(
        `DRY RUN: firewall not applied (${model.services.length} service(s) would be open); nothing is protected`,
      );
    this.lastRuleset = ruleset;
  }

  async forgetFlows(services: ForwardedService[]): Promise<void> {
    for (const s of services) this.forgotten.push(`${s.protocol} ${s.proxyAddress}:${s.port}`);
  }
}
