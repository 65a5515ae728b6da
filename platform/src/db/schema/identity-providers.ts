// OpenID Connect providers technicians sign in at, how their groups map to Meetpoint roles, and
// which second factor each role needs.
import { boolean, jsonb, pgTable, text, unique, uuid } from "drizzle-orm/pg-core";
import { at, createdAt, id } from "./columns.ts";
import { customers } from "./customers.ts";
import { ROLES } from "./role-assignments.ts";

export const CLIENT_AUTH_METHODS = ["client_secret_basic", "private_key_jwt"] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

/**
 * Asymmetric JWS algorithms (RFC 7518 §3, RFC 8037) an ID token may be signed with. HMAC (HS*) and
 * `none` are never accepted: the key of an HMAC is the client secret, which the client shares.
 */
export const ID_TOKEN_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
] as const;
export type IdTokenAlgorithm = (typeof ID_TOKEN_ALGORITHMS)[number];

export const identityProviders = pgTable("identity_providers", {
  id: id(),
  /** Short name in URLs: /sign-in/oidc/<slug>/callback is the redirect URI. */
  slug: text("slug").notNull().unique(),
  displayName: text("display_name").notNull(),
  issuer: text("issuer").notNull(),
  clientId: text("client_id").notNull(),
  clientAuth: text("client_auth", { enum: CLIENT_AUTH_METHODS }).notNull(),
  /** The client secret, or the private JWK for private_key_jwt: sealed with the KEK. */
  clientCredentialSealed: text("client_credential_sealed").notNull(),
  /** For private_key_jwt: the public JWK to register at the provider. */
  publicJwk: jsonb("public_jwk").$type<Record<string, string>>(),
  /**
   * The one algorithm the provider's ID tokens must be signed with, when an admin pinned it; null
   * accepts every asymmetric algorithm the provider's metadata lists.
   */
  idTokenAlg: text("id_token_alg", { enum: ID_TOKEN_ALGORITHMS }),
  /** PEM of a CA to trust for the provider's HTTPS instead of the system's (internal IdPs). */
  caPem: text("ca_pem"),
  /** Scopes asked for, space-separated (the groups claim may need its own scope). */
  scopes: text("scopes").notNull().default("openid profile"),
  /** The ID token claim that lists the user's groups (Keycloak: groups; Entra ID: groups or roles). */
  groupsClaim: text("groups_claim").notNull().default("groups"),
  /**
   * The ID token / userinfo claim that names the user's company (organization, company, Entra ID's
   * companyName); null: the provider's sign-ins leave the company alone.
   */
  companyClaim: text("company_claim"),
  /** amr values that mean the provider checked a second factor. */
  mfaAmr: text("mfa_amr").array().notNull(),
  /** An acr value that means the same (optional). */
  mfaAcr: text("mfa_acr"),
  enabled: boolean("enabled").notNull().default(true),
  createdAt: createdAt(),
});

export const identityProviderMappings = pgTable(
  "identity_provider_mappings",
  {
    id: id(),
    providerId: uuid("provider_id")
      .notNull()
      .references(() => identityProviders.id, { onDelete: "cascade" }),
    /** A value of the groups claim. */
    group: text("group").notNull(),
    role: text("role", { enum: ROLES }).notNull(),
    customerId: uuid("customer_id").references(() => customers.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
  },
  (t) => [
    unique("identity_provider_mappings_unique")
      .on(t.providerId, t.group, t.role, t.customerId)
      .nullsNotDistinct(),
  ],
);

/** provider: the identity provider must assert MFA; provider_or_totp: else Meetpoint's TOTP step. */
export const MFA_POLICIES = ["provider", "provider_or_totp"] as const;
export type MfaPolicy = (typeof MFA_POLICIES)[number];

export const mfaPolicies = pgTable("mfa_policies", {
  role: text("role", { enum: ROLES }).primaryKey(),
  policy: text("policy", { enum: MFA_POLICIES }).notNull(),
});

/** A sign-in under way at a provider: spent (deleted) by its callback, so a state works once. */
export const oidcLogins = pgTable("oidc_logins", {
  /** SHA-256 of the state parameter, hex. */
  stateHash: text("state_hash").primaryKey(),
  providerId: uuid("provider_id")
    .notNull()
    .references(() => identityProviders.id, { onDelete: "cascade" }),
  nonce: text("nonce").notNull(),
  codeVerifier: text("code_verifier").notNull(),
  /** SHA-256 of the browser's pre-session cookie: the callback must come from the same browser. */
  browserHash: text("browser_hash").notNull(),
  createdAt: createdAt(),
  expiresAt: at("expires_at").notNull(),
});
