// Gateways seen from the platform: enrollment bundles and the queue of signed commands their
// long-poll picks up. (The gateway API itself is HTTP: web/gateway-api.ts.)
export { GatewayCommands } from "./commands.ts";
export { type EnrollmentBundle, issueEnrollmentBundle } from "./enrollment.ts";
