// What an identity provider's ID token means for Meetpoint (pure): the roles its groups map to,
// whether it asserted a second factor, and what the roles' MFA policy asks for.
import type { MfaPolicy, Role } from "../../db/index.ts";
import { CONTROL, FORMAT_CHARACTER } from "../../shared/index.ts";

export interface Mapping {
  group: string;
  role: Role;
  customerId: string | null;
}

export interface Grant {
  role: Role;
  customerId: string | null;
}

/** Every role defaults to: the provider's MFA, else Meetpoint's own TOTP step. */
export const DEFAULT_MFA_POLICY: MfaPolicy = "provider_or_totp";

/** amr values (RFC 8176) that say a second factor was checked. */
export const DEFAULT_MFA_AMR = [
  "mfa",
  "otp",
  "hwk",
  "swk",
  "sc",
  "fpt",
  "face",
  "iris",
  "sms",
  "tel",
];

/** The groups claim as a list of strings (a single string counts as one group). */
export function groupsOf(claims: Record<string, unknown>, claim: string): string[] {
  const value = claims[claim];
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return [];
}

/**
 * The company a provider's claim names: a string, or the first string of an array, trimmed and cut
 * to 200 characters; null when the claim is absent, empty, of another type, or holds control or
 * format characters (a provider's value is never stored as it would mislead an approver).
 */
export function companyOf(claims: Record<string, unknown>, claim: string | null): string | null {
  if (!claim) return null;
  const value = claims[claim];
  const first = Array.isArray(value) ? value.find((v) => typeof v === "string") : value;
  if (typeof first !== "string") return null;
  if (CONTROL.test(first) || FORMAT_CHARACTER.test(first)) return null;
  return first.trim().slice(0, 200) || null;
}

/**
 * Whether the provider left the groups out because there were too many for a token. Entra ID's
 * "group overage": the claim is replaced by a reference, `_claim_names: {groups: "src1"}` with
 * `_claim_sources` (OpenID Connect Core 1.0 §5.6.2, distributed claims), or `hasgroups: true` in
 * tokens from the browser. Nothing can be mapped then; the admin must narrow the claim.
 */
export function groupsOverage(claims: Record<string, unknown>, claim: string): boolean {
  const names = claims._claim_names;
  const distributed =
    typeof names === "object" &&
    names !== null &&
    Object.hasOwn(names, claim) &&
    !(claim in claims);
  return distributed || claims.hasgroups === true || claims.hasgroups === "true";
}

/** The grants the user's groups map to, without duplicates. */
export function grantsFor(groups: string[], mappings: Mapping[]): Grant[] {
  const member = new Set(groups);
  const out = new Map<string, Grant>();
  for (const m of mappings) {
    if (member.has(m.group))
      out.set(`${m.role}/${m.customerId}`, { role: m.role, customerId: m.customerId });
  }
  return [...out.values()];
}

/** Whether the provider says it checked a second factor (amr, or the configured acr). */
export function mfaAsserted(
  claims: Record<string, unknown>,
  provider: { mfaAmr: string[]; mfaAcr: string | null },
): boolean {
  const amr = Array.isArray(claims.amr) ? claims.amr.filter((v) => typeof v === "string") : [];
  if (amr.some((value) => provider.mfaAmr.includes(value))) return true;
  return provider.mfaAcr !== null && claims.acr === provider.mfaAcr;
}

/**
 * The strictest policy among the user's roles. Platform admins always need a second factor, which
 * every policy guarantees (there is no "none").
 */
export function policyFor(roles: Role[], policies: Partial<Record<Role, MfaPolicy>>): MfaPolicy {
  return roles.some((role) => (policies[role] ?? DEFAULT_MFA_POLICY) === "provider")
    ? "provider"
    : DEFAULT_MFA_POLICY;
}
