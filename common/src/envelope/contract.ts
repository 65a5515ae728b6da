// What the platform sends a gateway, signed: the shapes of each envelope's body.
import { z } from "zod";
import { checkHttpProxy } from "../net/http-proxy.ts";
import { parseSshPublicKey } from "../ssh/public-key.ts";

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

/**
 * An HTTP proxy the gateway must use for both channels: host, port, optional Basic credentials.
 * Checked field by field (common/src/net/http-proxy.ts).
 */
export const httpProxySchema = z
  .object({
    host: z.string().max(253),
    port: z.number().int(),
    username: z.string().max(128).nullable(),
    password: z.string().max(256).nullable(),
  })
  .strict()
  .superRefine((value, ctx) => {
    const checked = checkHttpProxy(value);
    if (!checked.ok)
      ctx.addIssue({ code: "custom", path: [checked.field], message: checked.message });
  });

/** The "USB stick": everything a gateway needs to reach the platform and trust it. */
export const enrollmentBodySchema = z
  .object({
    platformUrl: z.url({ protocol: /^https$/, error: "must be an https URL" }),
    gatewayId: uuid,
    secret: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "must be a 256-bit base64url secret"),
    caCertificates: z.string().regex(PEM_CERTIFICATES, "must be PEM certificates"),
    signingKey: publicJwkSchema,
    /** The plant's HTTP proxy, when the admin who made the bundle named one. */
    proxy: httpProxySchema.nullable().optional(),
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

/** An SSH public key a platform admin authorized, in authorized_keys form ("<type> <base64>"). */
export const sshAuthorizedKeySchema = z
  .object({
    key: z
      .string()
      .max(4096)
      .refine((line) => {
        const parsed = parseSshPublicKey(line);
        return parsed.ok && parsed.key.line === line;
      }, "must be one accepted SSH public key, type and base64 only"),
    /** Whose key it is, for people; never written into authorized_keys. */
    label: z.string().regex(/^[\x20-\x7e]{0,100}$/, "must be at most 100 printable characters"),
  })
  .strict();

/** Most authorized keys one gateway holds, from the platform and from the operator each. */
export const MAX_SSH_KEYS = 32;

/**
 * A gateway's settings, decided by platform admins (whitepaper §2.12.1, §2.5.4): one document,
 * replaced whole by a newer version. The gateway keeps the newest it accepted on its state volume.
 */
export const gatewaySettingsBodySchema = z
  .object({
    gatewayId: uuid,
    ssh: z
      .object({
        /** The maintenance SSH server runs (key-only; LAN side and, in a maintenance session, the tunnel). */
        enabled: z.boolean(),
        authorizedKeys: z.array(sshAuthorizedKeySchema).max(MAX_SSH_KEYS),
        /** The operator may add keys of their own in the operator UI. */
        operatorKeys: z.boolean(),
      })
      .strict(),
    operatorUi: z
      .object({
        /** "lan": the UI and local consent API answer on the machine network only (default). */
        reach: z.enum(["lan", "lan-and-wan"]),
      })
      .strict(),
  })
  .strict();

export const ENVELOPE_BODIES = {
  enrollment: enrollmentBodySchema,
  "data-channel": dataChannelBodySchema,
  command: commandBodySchema,
  "gateway-settings": gatewaySettingsBodySchema,
} as const;

export type EnvelopeKind = keyof typeof ENVELOPE_BODIES;
export type EnvelopeBody<K extends EnvelopeKind> = z.infer<(typeof ENVELOPE_BODIES)[K]>;
