// The Remote Service Connect gateway: the Meeting Point Router's logic for a Docker host.
export {
  type ForwardedService,
  type GatewayFirewall,
  renderGatewayRuleset,
  TABLE,
} from "./firewall/ruleset.ts";
