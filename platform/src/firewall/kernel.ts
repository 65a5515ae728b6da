// Applies rendered rulesets with nft and forgets flows with conntrack.
import { type Cidr, formatIpv4, netmask } from "@meetpoint/common";
import type { CommandRunner } from "../system/index.ts";
import { type GrantCounter, parseGrantCounters, parseWorkstationMap } from "./nft-json.ts";
import {
  type FirewallModel,
  GRANTS_SET,
  type Grant,
  renderGrantChange,
  renderRuleset,
  renderWorkstationChange,
  TABLE,
  WORKSTATIONS_MAP,
} from "./ruleset.ts";

export class KernelFirewall {
  /** Translations list the map, then change it: one at a time. */
  private translating: Promise<unknown> = Promise.resolve();

  constructor(private readonly commands: CommandRunner) {}

  private async nft(script: string): Promise<void> {
    if (!script) return;
    const result = await this.commands.run(["nft", "-f", "-"], script);
    if (result.code !== 0) throw new Error(`nft refused the ruleset: ${result.stderr.trim()}`);
  }

  /** Replaces the whole table (start, reconciliation). */
  apply(model: FirewallModel): Promise<void> {
    return this.nft(renderRuleset(model));
  }

  changeGrants(add: Grant[], remove: Grant[]): Promise<void> {
    return this.nft(renderGrantChange(add, remove));
  }

  /** Translates a workstation's proxy address to `tunnelAddress`, or stops (null); idempotent. */
  translate(proxyAddress: string, tunnelAddress: string | null): Promise<void> {
    const done = this.translating.then(() => this.applyTranslation(proxyAddress, tunnelAddress));
    this.translating = done.catch(() => {});
    return done;
  }

  private async applyTranslation(
    proxyAddress: string,
    tunnelAddress: string | null,
  ): Promise<void> {
    const listed = await this.commands.run([
      "nft",
      "-j",
      "list",
      "map",
      "inet",
      TABLE,
      WORKSTATIONS_MAP,
    ]);
    if (listed.code !== 0)
      throw new Error(
        `nft could not list the workstations: ${listed.stderr.trim() || `exit ${listed.code}`}`,
      );
    const current = parseWorkstationMap(listed.stdout).get(proxyAddress) ?? null;
    await this.nft(renderWorkstationChange(proxyAddress, current, tunnelAddress));
  }

  /** Removes the table (shutdown). */
  async remove(): Promise<void> {
    await this.commands.run(["nft", "delete", "table", "inet", TABLE]);
  }

  /**
   * Packets and bytes per grant element ("tech . proxy . proto . port"). Empty when nft cannot list
   * the set (no table yet); throws when its output is not the shape nft 1.0.6 prints.
   */
  async counters(): Promise<Map<string, GrantCounter>> {
    const result = await this.commands.run(["nft", "-j", "list", "set", "inet", TABLE, GRANTS_SET]);
    if (result.code !== 0)
      throw new Error(
        `nft could not list the grants: ${result.stderr.trim() || `exit ${result.code}`}`,
      );
    return parseGrantCounters(result.stdout);
  }

  /**
   * Deletes conntrack entries between the two addresses, both directions. None found is fine;
   * any other failure throws (a flow that stays established would keep passing).
   */
  async forgetFlows(flows: { technicianAddress: string; proxyAddress: string }[]): Promise<void> {
    for (const flow of flows) {
      await this.conntrackDelete(["-s", flow.technicianAddress, "-d", flow.proxyAddress]);
      await this.conntrackDelete(["-s", flow.proxyAddress, "-d", flow.technicianAddress]);
    }
  }

  /** Deletes every conntrack entry opened from `pool` (all tunnels: at start, and fail closed). */
  forgetPool(pool: Cidr): Promise<void> {
    return this.conntrackDelete([
      "--orig-src",
      formatIpv4(pool.base),
      "--mask-src",
      netmask(pool.prefix),
    ]);
  }

  /** conntrack -D (conntrack(8)): exit 1 with "0 flow entries have been deleted" means none. */
  private async conntrackDelete(filter: string[]): Promise<void> {
    const result = await this.commands.run(["conntrack", "-D", ...filter]);
    if (result.code === 0 || /\b0 flow entries have been deleted/.test(result.stderr)) return;
    throw new Error(
      `conntrack -D ${filter.join(" ")} failed: ${result.stderr.trim() || `exit ${result.code}`}`,
    );
  }
}
