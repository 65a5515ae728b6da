// Applies the gateway ruleset to this network namespace's kernel (nft -f, atomic), and keeps IPv4
// forwarding on, which the DNAT towards the LAN needs.
import { readFileSync, writeFileSync } from "node:fs";
import type { Runner } from "@meetpoint/common";
import { type ForwardedService, type GatewayFirewall, renderGatewayRuleset } from "./ruleset.ts";

/** The gateway's firewall as the agent uses it; a fake stands in for UI tests. */
export interface FirewallPort {
  apply(model: GatewayFirewall): Promise<void>;
  /**
   * Deletes the connection tracking entries of flows to these services (through their proxy
   * address; the entry holds the DNAT'ed LAN side too), so a flow established before the
   * service closed does not keep passing. None found is fine; any other failure throws.
   */
  forgetFlows(services: ForwardedService[]): Promise<void>;
}

export class KernelFirewall implements FirewallPort {
  constructor(private readonly run: Runner) {}

  async apply(model: GatewayFirewall): Promise<void> {
    const result = await this.run(["nft", "-f", "-"], { input: renderGatewayRuleset(model) });
    if (result.code !== 0)
      throw new Error(
        `the firewall could not be set: ${result.stderr.trim() || `nft exit ${result.code}`}`,
      );
    if (model.tunnelInterface) ensureForwarding();
  }

  async forgetFlows(services: ForwardedService[]): Promise<void> {
    for (const service of services) {
      const filter = [
        "-p",
        service.protocol,
        "--orig-dst",
        service.proxyAddress,
        "--dport",
        String(service.port),
      ];
      const result = await this.run(["conntrack", "-D", ...filter]);
      // conntrack(8) exits 1 with "0 flow entries have been deleted" when there were none.
      if (result.code !== 0 && !/\b0 flow entries have been deleted/.test(result.stderr))
        throw new Error(
          `connection tracking could not be cleared (conntrack -D ${filter.join(" ")}): ${result.stderr.trim() || `exit ${result.code}`}`,
        );
    }
  }
}

function ensureForwarding(): void {
  const path = "/proc/sys/net/ipv4/ip_forward";
  try {
    if (readFileSync(path, "utf8").trim() === "1") return;
    writeFileSync(path, "1");
  } catch {
    throw new Error(
      "IPv4 forwarding is off and cannot be switched on here: start the container with --sysctl net.ipv4.ip_forward=1",
    );
  }
}
