// API tokens for /api/v1: a user's own, or a service account's (made by an admin); stored hashed,
// scoped to grants no wider than their creator's, expiring, revocable.
import { jsonb, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { at, createdAt, id } from "./columns.ts";
import type { Role } from "./role-assignments.ts";
import { users } from "./users.ts";

/** A role the token carries, at one customer or platform-wide (null). */
export interface TokenGrant {
  role: Role;
  customerId: string | null;
}

export const apiTokens = pgTable("api_tokens", {
  id: id(),
  name: text("name").notNull(),
  /** The user whose rights bound the token: the owner, or for a service account its creator. */
  userId: uuid("user_id")
    .notNull()
    .references(() => users.id, { onDelete: "cascade" }),
  /** Set for service accounts: the name the audit log shows instead of a person. */
  serviceAccount: text("service_account"),
  /** SHA-256 (hex) of the secret part; the token itself is shown once. */
  secretHash: text("secret_hash").notNull().unique(),
  grants: jsonb("grants").$type<TokenGrant[]>().notNull(),
  createdAt: createdAt(),
  expiresAt: at("expires_at").notNull(),
  revokedAt: at("revoked_at"),
  revokedBy: uuid("revoked_by"),
  lastUsedAt: at("last_used_at"),
});
