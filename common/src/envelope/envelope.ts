// Signed envelopes (JWS compact, ES256): the platform signs, the gateway verifies against the pinned
// key — signature, kind, audience (gateway id), validity window and a version that only grows; a
// refusal names the check that failed (errors.ts).
//
// JWS rather than CMS: the bodies are JSON checked by the same zod contract on both sides, `jose`
// runs on WebCrypto with no native code, and a compact JWS is one line that survives copy, upload
// and a USB stick without an ASN.1 toolchain on the gateway.
import {
  type CompactJWSHeaderParameters,
  CompactSign,
  decodeJwt,
  importJWK,
  type JWK,
  type JWTPayload,
  jwtVerify,
} from "jose";
import { z } from "zod";
import {
  ENVELOPE_BODIES,
  type EnvelopeBody,
  type EnvelopeKind,
  type PublicJwk,
} from "./contract.ts";
import { EnvelopeError, type EnvelopeRefusal, refusalFor, refuse } from "./errors.ts";

const ISSUER = "meetpoint";
const typOf = (kind: EnvelopeKind) => `meetpoint-${kind}+jws`;

const claimsSchema = z
  .object({
    iss: z.literal(ISSUER),
    kind: z.enum(["enrollment", "data-channel", "command", "gateway-settings"]),
    aud: z.string(),
    iat: z.number().int(),
    nbf: z.number().int(),
    exp: z.number().int(),
    ver: z.number().int().positive(),
    body: z.unknown(),
  })
  .strict();

export interface EnvelopeClaims<K extends EnvelopeKind> {
  kind: K;
  /** The gateway id this envelope is for. */
  audience: string;
  /** Grows with every envelope the platform issues; a gateway refuses anything not newer. */
  version: number;
  issuedAt: Date;
  expiresAt: Date;
  body: EnvelopeBody<K>;
}

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** Signs an envelope with the platform's private signing key. */
export function signEnvelope<K extends EnvelopeKind>(
  privateKey: CryptoKey,
  claims: EnvelopeClaims<K>,
): Promise<string> {
  const payload = {
    iss: ISSUER,
    kind: claims.kind,
    aud: claims.audience,
    iat: seconds(claims.issuedAt),
    nbf: seconds(claims.issuedAt),
    exp: seconds(claims.expiresAt),
    ver: claims.version,
    body: ENVELOPE_BODIES[claims.kind].parse(claims.body),
  };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: "ES256", typ: typOf(claims.kind) })
    .sign(privateKey);
}

export type VerifyResult<K extends EnvelopeKind> =
  | { ok: true; claims: EnvelopeClaims<K> }
  | EnvelopeRefusal;

export interface VerifyOptions<K extends EnvelopeKind> {
  kind: K;
  /** The pinned platform signing key. */
  key: CryptoKey | PublicJwk;
  /** This gateway's id; null only when importing a first enrollment bundle. */
  audience: string | null;
  /** Version of the newest envelope of this kind accepted before; 0 when none. */
  lastVersion: number;
  now: Date;
  /** Tolerated clock difference in seconds; default 120. */
  clockSkewSeconds?: number;
}

/** Three base64url parts, header and signature not empty: anything else is not worth parsing. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/;

/**
 * The verification key for a header of the expected kind. jose calls this after the algorithm
 * check and before the signature, so a wrong kind is named even when the key would not match.
 */
async function keyFor<K extends EnvelopeKind>(
  header: CompactJWSHeaderParameters,
  options: VerifyOptions<K>,
): Promise<CryptoKey> {
  if (header.typ !== typOf(options.kind)) {
    throw new EnvelopeError(
      refuse(
        "ERR_ENVELOPE_KIND",
        `wrong kind: expected ${options.kind}, got ${String(header.typ)}`,
      ),
    );
  }
  if (options.key instanceof CryptoKey) return options.key;
  try {
    return (await importJWK(options.key as JWK, "ES256")) as CryptoKey;
  } catch (error) {
    throw new EnvelopeError(
      refuse("ERR_ENVELOPE_KEY", `unusable verification key: ${(error as Error).message}`),
      { cause: error },
    );
  }
}

/**
 * Verifies everything about an envelope: jose checks the signature (ES256 only), issuer, audience
 * and validity window with the tolerated clock skew; then the claims and the body must match their
 * strict schemas and the version must be newer than `lastVersion`. Any failure rejects it whole,
 * with the code of the check that failed and a precise reason.
 */
export async function verifyEnvelope<K extends EnvelopeKind>(
  token: string,
  options: VerifyOptions<K>,
): Promise<VerifyResult<K>> {
  const compact = token.trim();
  if (!COMPACT_JWS.test(compact))
    return refuse(
      "ERR_ENVELOPE_MALFORMED",
      "malformed: not a complete signed envelope (truncated or altered?)",
    );
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(compact, (header) => keyFor(header, options), {
      algorithms: ["ES256"],
      issuer: ISSUER,
      audience: options.audience ?? undefined,
      requiredClaims: ["iat", "nbf", "exp"],
      currentDate: options.now,
      clockTolerance: options.clockSkewSeconds ?? 120,
    }));
  } catch (error) {
    return refusalFor(error, compact, options.audience);
  }
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success)
    return refuse("ERR_ENVELOPE_CLAIMS", `invalid content: ${describe(claims.error)}`);
  const parsed = claims.data;
  if (parsed.kind !== options.kind)
    return refuse("ERR_ENVELOPE_KIND", `wrong kind: expected ${options.kind}, got ${parsed.kind}`);
  if (parsed.ver <= options.lastVersion) {
    return refuse(
      "ERR_ENVELOPE_ROLLBACK",
      `older version ${parsed.ver}: version ${options.lastVersion} was accepted before (rollback refused)`,
    );
  }
  const body = ENVELOPE_BODIES[options.kind].safeParse(parsed.body);
  if (!body.success)
    return refuse("ERR_ENVELOPE_BODY", `invalid content: body.${describe(body.error)}`);
  return {
    ok: true,
    claims: {
      kind: options.kind,
      audience: parsed.aud,
      version: parsed.ver,
      issuedAt: new Date(parsed.iat * 1000),
      expiresAt: new Date(parsed.exp * 1000),
      body: body.data as EnvelopeBody<K>,
    },
  };
}

/**
 * The version an envelope claims, read WITHOUT verifying it: only to skip one already in force
 * before spending a verification on it. Null when it is not readable.
 */
export function claimedVersion(token: string): number | null {
  try {
    const ver = decodeJwt(token.trim()).ver;
    return typeof ver === "number" ? ver : null;
  } catch {
    return null;
  }
}

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid";
  if (issue.code === "unrecognized_keys") return `unexpected field(s) ${issue.keys.join(", ")}`;
  return `${issue.path.join(".") || "value"}: ${issue.message}`;
}
