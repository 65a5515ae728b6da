// Gateways seen from the platform: enrollment bundles and the gateway API.
export { gatewayApi } from "./api.ts";

export { type EnrollmentBundle, issueEnrollmentBundle } from "./enrollment.ts";
