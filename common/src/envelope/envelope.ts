// Signed envelopes (JWS compact, ES256): the platform signs, the gateway verifies against the pinned
// key — signature, kind, audience (gateway id), validity window and a version that only grows.
//
// JWS rather than CMS: the bodies are JSON checked by the same zod contract on both sides, `jose`
// runs on WebCrypto with no native code, and a compact JWS is one line that survives copy, upload
// and a USB stick without an ASN.1 toolchain on the gateway.
import { CompactSign, compactVerify, importJWK, type JWK } from "jose";
import { z } from "zod";
import {
  ENVELOPE_BODIES,
  type EnvelopeBody,
  type EnvelopeKind,
  type PublicJwk,
} from "./contract.ts";

const ISSUER = "meetpoint";
const typOf = (kind: EnvelopeKind) => `meetpoint-${kind}+jws`;

const claimsSchema = z
  .object({
    iss: z.literal(ISSUER),
    kind: z.enum(["enrollment", "data-channel", "command"]),
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
  | { ok: false; reason: string };

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

/** Protected header of a compact JWS, or null when it is not one. */
function headerOf(token: string): Record<string, unknown> | null {
  const parts = token.split(".");
  if (
    parts.length !== 3 ||
    parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p)) ||
    !parts[0] ||
    !parts[2]
  )
    return null;
  try {
    return JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8"));
  } catch {
    return null;
  }
}

/** Verifies everything about an envelope; any failure rejects it whole with a precise reason. */
export async function verifyEnvelope<K extends EnvelopeKind>(
  token: string,
  options: VerifyOptions<K>,
): Promise<VerifyResult<K>> {
  const compact = token.trim();
  const header = headerOf(compact);
  if (!header)
    return {
      ok: false,
      reason: "malformed: not a complete signed envelope (truncated or altered?)",
    };
  if (header.alg !== "ES256")
    return { ok: false, reason: `unsupported signature algorithm ${String(header.alg)}` };
  if (header.typ !== typOf(options.kind)) {
    return { ok: false, reason: `wrong kind: expected ${options.kind}, got ${String(header.typ)}` };
  }
  let payloadBytes: Uint8Array;
  try {
    const key =
      options.key instanceof CryptoKey ? options.key : await importJWK(options.key as JWK, "ES256");
    ({ payload: payloadBytes } = await compactVerify(compact, key, { algorithms: ["ES256"] }));
  } catch {
    return { ok: false, reason: "bad signature: not signed by the pinned platform key" };
  }
  let parsed: z.infer<typeof claimsSchema>;
  try {
    const result = claimsSchema.safeParse(JSON.parse(new TextDecoder().decode(payloadBytes)));
    if (!result.success) return { ok: false, reason: `invalid content: ${describe(result.error)}` };
    parsed = result.data;
  } catch {
    return { ok: false, reason: "invalid content: not JSON" };
  }
  if (parsed.kind !== options.kind)
    return { ok: false, reason: `wrong kind: expected ${options.kind}, got ${parsed.kind}` };
  if (options.audience !== null && parsed.aud !== options.audience) {
    return {
      ok: false,
      reason: `wrong audience: made for gateway ${parsed.aud}, this is ${options.audience}`,
    };
  }
  const skew = options.clockSkewSeconds ?? 120;
  const now = seconds(options.now);
  if (now > parsed.exp + skew)
    return { ok: false, reason: `expired at ${new Date(parsed.exp * 1000).toISOString()}` };
  if (now < parsed.nbf - skew)
    return {
      ok: false,
      reason: `not valid before ${new Date(parsed.nbf * 1000).toISOString()} (check the clock)`,
    };
  if (parsed.ver <= options.lastVersion) {
    return {
      ok: false,
      reason: `older version ${parsed.ver}: version ${options.lastVersion} was accepted before (rollback refused)`,
    };
  }
  const body = ENVELOPE_BODIES[options.kind].safeParse(parsed.body);
  if (!body.success) return { ok: false, reason: `invalid content: body.${describe(body.error)}` };
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

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid";
  if (issue.code === "unrecognized_keys") return `unexpected field(s) ${issue.keys.join(", ")}`;
  return `${issue.path.join(".") || "value"}: ${issue.message}`;
}
