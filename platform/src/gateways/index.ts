// Gateways seen from the platform: enrollment now; the control-channel API joins here.
export { type EnrollmentBundle, issueEnrollmentBundle } from "./enrollment.ts";
