// Enrollment bundles: the first import trusts the key inside the bundle (the bundle came on the
// operator's "USB stick"); every later import must be signed by the key pinned at the first.
import { decodeJwt, decodeProtectedHeader } from "jose";
import type { PublicJwk } from "./contract.ts";
import { type VerifyResult, verifyEnvelope } from "./envelope.ts";
import { refuse } from "./errors.ts";

export interface PinnedEnrollment {
  gatewayId: string;
  signingKey: PublicJwk;
  version: number;
}

/** The signing key a bundle carries, without trusting it yet; null when there is none. */
function embeddedKey(token: string): PublicJwk | null {
  try {
    decodeProtectedHeader(token);
    const body = decodeJwt(token).body as { signingKey?: PublicJwk } | undefined;
    return body?.signingKey ?? null;
  } catch {
    return null;
  }
}

/**
 * Verifies a bundle. With `pinned` (a gateway enrolled before), the bundle must be for the same
 * gateway, signed by the pinned key and newer; without it, the bundle must verify with its own key.
 */
export async function verifyEnrollmentBundle(
  token: string,
  options: { pinned: PinnedEnrollment | null; now: Date; clockSkewSeconds?: number },
): Promise<VerifyResult<"enrollment">> {
  const key = options.pinned?.signingKey ?? embeddedKey(token.trim());
  if (!key)
    return refuse(
      "ERR_ENVELOPE_MALFORMED",
      "malformed: not a complete enrollment bundle (truncated or altered?)",
    );
  const result = await verifyEnvelope(token, {
    kind: "enrollment",
    key,
    audience: options.pinned?.gatewayId ?? null,
    lastVersion: options.pinned?.version ?? 0,
    now: options.now,
    clockSkewSeconds: options.clockSkewSeconds,
  });
  if (!result.ok) return result;
  if (result.claims.body.gatewayId !== result.claims.audience) {
    return refuse("ERR_ENVELOPE_BODY", "invalid content: gateway id and audience differ");
  }
  return result;
}

/**
 * What a bundle says it is (gateway and version), read WITHOUT checking its signature: only to
 * word a refusal ("this bundle is the one already in use"), never to trust anything in it.
 */
export function peekEnrollmentBundle(token: string): { gatewayId: string; version: number } | null {
  try {
    const claims = decodeJwt(token.trim()) as { aud?: unknown; ver?: unknown };
    return typeof claims.aud === "string" && typeof claims.ver === "number"
      ? { gatewayId: claims.aud, version: claims.ver }
      : null;
  } catch {
    return null;
  }
}
