// Opening a workspace needs a portal session that passed a second factor, whatever a role's policy.
import type { WebSession } from "../identity/index.ts";

/**
 * Whether this portal session passed a second factor. Sessions record how far their sign-in came
 * (web_sessions.stage); a session reaches "ready" only through one: local accounts after their
 * TOTP code (or its enrolment), provider sign-ins when the provider asserted MFA (amr/acr) or after
 * Meetpoint's TOTP — there is no MFA policy "none" (identity/oidc/policy.ts). A session at any
 * earlier stage has not.
 */
export function sessionPassedSecondFactor(session: Pick<WebSession, "stage"> | null): boolean {
  return session?.stage === "ready";
}
