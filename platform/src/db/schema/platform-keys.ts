// The platform's own secrets besides the CA: the envelope signing key and the tls-crypt key.
import { jsonb, pgSequence, pgTable, text } from "drizzle-orm/pg-core";
import { createdAt } from "./columns.ts";

export const PLATFORM_KEY_PURPOSES = ["envelope_signing", "tls_crypt"] as const;
export type PlatformKeyPurpose = (typeof PLATFORM_KEY_PURPOSES)[number];

export const platformKeys = pgTable("platform_keys", {
  purpose: text("purpose", { enum: PLATFORM_KEY_PURPOSES }).primaryKey(),
  /** The secret, sealed with the KEK (see pki/kek.ts). */
  sealed: text("sealed").notNull(),
  /** The public half where there is one (JWK). */
  publicJwk: jsonb("public_jwk"),
  createdAt: createdAt(),
});

/** Versions of signed envelopes: one sequence, so every gateway sees them only grow. */
export const envelopeVersions = pgSequence("envelope_versions", { startWith: 1 });
