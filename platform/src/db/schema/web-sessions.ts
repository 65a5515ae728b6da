// A signed-in browser: server-side state behind the portal's session cookie.
import { jsonb, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { at, createdAt } from "./columns.ts";
import { users } from "./users.ts";

/** How far a sign-in has come: each stage but "ready" allows only its own page. */
export const SIGN_IN_STAGES = ["totp", "enrol_totp", "change_password", "ready"] as const;
export type SignInStage = (typeof SIGN_IN_STAGES)[number];

export const webSessions = pgTable("web_sessions", {
  /** SHA-256 of the cookie value, hex: a database leak yields no usable cookie. */
  id: text("id").primaryKey(),
  userId: uuid("user_id")
    .notNull()
    .references(() => users.id, { onDelete: "cascade" }),
  stage: text("stage", { enum: SIGN_IN_STAGES }).notNull(),
  csrfToken: text("csrf_token").notNull(),
  ip: text("ip").notNull(),
  userAgent: text("user_agent").notNull(),
  createdAt: createdAt(),
  lastSeenAt: at("last_seen_at").notNull().defaultNow(),
  /** For sign-ins through an identity provider: its tokens (sealed) and when to refresh. */
  oidc: jsonb("oidc").$type<OidcTokens>(),
});

export interface OidcTokens {
  providerId: string;
  /** Sealed with the KEK; kept for RP-initiated logout (id_token_hint). */
  idTokenSealed: string;
  /** Sealed with the KEK; null when the provider gave none. */
  refreshTokenSealed: string | null;
  /** When the access token expires (ms since epoch): the portal refreshes after that. */
  refreshAfter: number;
}
