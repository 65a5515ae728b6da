// The platform's dynamic firewall: the nftables ruleset and grant changes, rendered from data.

export { KernelFirewall } from "./kernel.ts";
export {
  type FirewallModel,
  GRANTS_SET,
  type Grant,
  grantElement,
  renderGrantChange,
  renderRuleset,
  renderWorkstationChange,
  TABLE,
  WORKSTATIONS_MAP,
  type WorkstationAddress,
} from "./ruleset.ts";
