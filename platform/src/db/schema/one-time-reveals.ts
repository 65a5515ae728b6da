// A secret the portal shows exactly once (a one-time password, a gateway's secret and enrollment
// bundle, a technician's one-time .ovpn, an API token, a webhook's signing key): made by a POST, shown by the GET it redirects to, and
// deleted by that GET. Bound to the portal session that made it; gone when that session ends.
import { pgTable, text } from "drizzle-orm/pg-core";
import { at, createdAt, id } from "./columns.ts";
import { webSessions } from "./web-sessions.ts";

export const REVEAL_KINDS = [
  "user_password",
  "gateway_credentials",
  "connection_profile",
  "workstation_profile",
  "api_token",
  "webhook_key",
] as const;
export type RevealKind = (typeof REVEAL_KINDS)[number];

export const oneTimeReveals = pgTable("one_time_reveals", {
  /** Random: also the last part of the address it is shown at. */
  id: id(),
  webSessionId: text("web_session_id")
    .notNull()
    .references(() => webSessions.id, { onDelete: "cascade" }),
  kind: text("kind", { enum: REVEAL_KINDS }).notNull(),
  /** What the page shows, as JSON, sealed with the KEK. */
  payloadSealed: text("payload_sealed").notNull(),
  createdAt: createdAt(),
  expiresAt: at("expires_at").notNull(),
});
