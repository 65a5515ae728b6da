// Why an envelope was refused: one stable code per check (modelled on jose's util/errors.ts), the
// words for people in `reason`. Gateways log and show the reason; code and tests branch on the code.
import { decodeProtectedHeader, errors } from "jose";

/** Every check an envelope can fail, by its stable code. */
export const ENVELOPE_FAILURES = {
  /** Not a complete compact JWS (truncated, altered, not a token at all). */
  ERR_ENVELOPE_MALFORMED: "malformed",
  /** Signed with an algorithm other than ES256 (or "none"). */
  ERR_ENVELOPE_ALGORITHM: "unsupported signature algorithm",
  /** The pinned key cannot verify anything (not a P-256 public key). */
  ERR_ENVELOPE_KEY: "unusable verification key",
  /** The signature does not match the pinned platform key. */
  ERR_ENVELOPE_SIGNATURE: "bad signature",
  /** Another kind of envelope than the one expected (header type or `kind` claim). */
  ERR_ENVELOPE_KIND: "wrong kind",
  /** Not issued by the Meetpoint platform. */
  ERR_ENVELOPE_ISSUER: "wrong issuer",
  /** Made for another gateway. */
  ERR_ENVELOPE_AUDIENCE: "wrong audience",
  /** Past its expiry, beyond the tolerated clock skew. */
  ERR_ENVELOPE_EXPIRED: "expired",
  /** Not valid yet, beyond the tolerated clock skew (a clock is wrong). */
  ERR_ENVELOPE_NOT_YET_VALID: "not valid yet",
  /** Not newer than the newest envelope of its kind accepted before. */
  ERR_ENVELOPE_ROLLBACK: "rollback refused",
  /** The signed claims are not exactly the envelope's claims (missing, extra, wrong type). */
  ERR_ENVELOPE_CLAIMS: "invalid claims",
  /** The body does not match its kind's strict schema. */
  ERR_ENVELOPE_BODY: "invalid body",
} as const;

export type EnvelopeFailureCode = keyof typeof ENVELOPE_FAILURES;

/** A refused envelope: which check failed (`code`) and why, in words (`reason`). */
export interface EnvelopeRefusal {
  ok: false;
  code: EnvelopeFailureCode;
  reason: string;
}

export const refuse = (code: EnvelopeFailureCode, reason: string): EnvelopeRefusal => ({
  ok: false,
  code,
  reason,
});

/** Thrown inside verification (from jose's key callback) and turned back into its refusal. */
export class EnvelopeError extends Error {
  constructor(
    readonly refusal: EnvelopeRefusal,
    options?: ErrorOptions,
  ) {
    super(refusal.reason, options);
  }
}

const MALFORMED = "malformed: not a complete signed envelope (truncated or altered?)";

const at = (seconds: unknown) =>
  typeof seconds === "number" ? new Date(seconds * 1000).toISOString() : String(seconds);

/**
 * The refusal for an error thrown by jose's `jwtVerify`. Anything unexpected still refuses the
 * envelope (fail closed), naming the key: a key jose cannot use is the one input not checked before.
 */
export function refusalFor(
  error: unknown,
  token: string,
  audience: string | null,
): EnvelopeRefusal {
  if (error instanceof EnvelopeError) return error.refusal;
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return refuse("ERR_ENVELOPE_SIGNATURE", "bad signature: not signed by the pinned platform key");
  if (error instanceof errors.JOSEAlgNotAllowed) {
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      alg = undefined;
    }
    return refuse("ERR_ENVELOPE_ALGORITHM", `unsupported signature algorithm ${String(alg)}`);
  }
  if (error instanceof errors.JWSInvalid) return refuse("ERR_ENVELOPE_MALFORMED", MALFORMED);
  if (error instanceof errors.JWTInvalid)
    return refuse("ERR_ENVELOPE_CLAIMS", `invalid content: ${error.message}`);
  if (error instanceof errors.JWTExpired)
    return refuse("ERR_ENVELOPE_EXPIRED", `expired at ${at(error.payload.exp)}`);
  if (error instanceof errors.JWTClaimValidationFailed) {
    const { claim, payload } = error;
    if (error.reason !== "check_failed")
      return refuse("ERR_ENVELOPE_CLAIMS", `invalid content: ${error.message}`);
    if (claim === "aud")
      return refuse(
        "ERR_ENVELOPE_AUDIENCE",
        `wrong audience: made for gateway ${String(payload.aud)}, this is ${audience}`,
      );
    if (claim === "nbf")
      return refuse(
        "ERR_ENVELOPE_NOT_YET_VALID",
        `not valid before ${at(payload.nbf)} (check the clock)`,
      );
    if (claim === "iss")
      return refuse(
        "ERR_ENVELOPE_ISSUER",
        `wrong issuer: made by ${String(payload.iss)}, not the platform`,
      );
    return refuse("ERR_ENVELOPE_CLAIMS", `invalid content: ${error.message}`);
  }
  return refuse(
    "ERR_ENVELOPE_KEY",
    `cannot verify with the pinned key: ${error instanceof Error ? error.message : String(error)}`,
  );
}
