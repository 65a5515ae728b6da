// What the platform sends a gateway, signed: the shapes of each envelope's body.
import { z } from "zod";

const uuid = z.uuid({ error: "must be a UUID" });
const PEM_CERTIFICATES =
  /^(-----BEGIN CERTIFICATE-----\n(?:[A-Za-z0-9+/=]{1,76}\n)+-----END CERTIFICATE-----\n)+$/;

/** An ECDSA P-256 public key as JWK: the key a gateway pins to check envelopes. */
export const publicJwkSchema = z
  .object({
    kty: z.literal("EC"),
    crv: z.literal("P-256"),
    x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
    y: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  })
  .strict();

export type PublicJwk = z.infer<typeof publicJwkSchema>;

/** The "USB stick": everything a gateway needs to reach the platform and trust it. */
export const enrollmentBodySchema = z
  .object({
    platformUrl: z.url({ protocol: /^https$/, error: "must be an https URL" }),
    gatewayId: uuid,
    secret: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "must be a 256-bit base64url secret"),
    caCertificates: z.string().regex(PEM_CERTIFICATES, "must be PEM certificates"),
    signingKey: publicJwkSchema,
    /** What the gateway is called in the portal, where it stands and whose it is (shown at import). */
    gatewayName: z.string().max(100).optional(),
    siteName: z.string().max(100).optional(),
    customerName: z.string().max(100).optional(),
  })
  .strict();

/** A one-time data-channel configuration for the gateway's OpenVPN client. */
export const dataChannelBodySchema = z
  .object({
    gatewaySessionId: uuid,
    profile: z.string().min(1).max(64_000),
  })
  .strict();

/** A command for the gateway, delivered over the control channel. */
export const commandBodySchema = z
  .object({
    command: z.enum(["disconnect", "refresh"]),
    reason: z.string().max(200),
    /** The data channel a disconnect is for; a gateway ignores one for a channel it no longer has. */
    gatewaySessionId: uuid.nullable(),
  })
  .strict();

export const ENVELOPE_BODIES = {
  enrollment: enrollmentBodySchema,
  "data-channel": dataChannelBodySchema,
  command: commandBodySchema,
} as const;

export type EnvelopeKind = keyof typeof ENVELOPE_BODIES;
export type EnvelopeBody<K extends EnvelopeKind> = z.infer<(typeof ENVELOPE_BODIES)[K]>;
