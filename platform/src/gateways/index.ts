// Gateways seen from the platform: enrollment bundles, the queue of signed commands their long-poll
// picks up, their signed settings and the SSH log they report. (The gateway API itself is HTTP:
// web/gateway-api.ts.)
export { GatewayCommands } from "./commands.ts";
export { type EnrollmentBundle, issueEnrollmentBundle } from "./enrollment.ts";
export {
  changeGatewaySettings,
  type GatewaySettingsChange,
  type GatewaySettingsDeps,
  type GatewaySettingsView,
  MAX_PLATFORM_KEYS,
  mayChangeGatewaySettings,
  readGatewaySettings,
  settingsEnvelopeFor,
  type UiReach,
} from "./settings.ts";
export { recordSshEvents } from "./ssh-events.ts";
