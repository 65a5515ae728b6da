// A person who signs in to the portal.
import { boolean, integer, pgTable, primaryKey, text, unique, uuid } from "drizzle-orm/pg-core";
import { at, createdAt, id } from "./columns.ts";

export const users = pgTable(
  "users",
  {
    id: id(),
    username: text("username").notNull().unique(),
    displayName: text("display_name").notNull(),
    /**
     * The company the person works for (at most 200 characters), shown to approvers; set by an
     * admin or, at each sign-in, from the identity provider's company claim. Null: not recorded.
     */
    company: text("company"),
    /** Argon2id hash; null for accounts that only sign in through an identity provider. */
    passwordHash: text("password_hash"),
    mustChangePassword: boolean("must_change_password").notNull().default(false),
    /** TOTP key, hex; set at enrolment, confirmed when totp_confirmed_at is set. */
    totpKey: text("totp_key"),
    totpConfirmedAt: at("totp_confirmed_at"),
    /** Last accepted TOTP time step: a code is never accepted twice. */
    totpLastStep: integer("totp_last_step"),
    /** Failures at the steps after the password (TOTP, password change), and their lock. */
    failedSignIns: integer("failed_sign_ins").notNull().default(0),
    lockedUntil: at("locked_until"),
    disabledAt: at("disabled_at"),
    /** For accounts of an identity provider: which one, and the subject (sub) it gave. */
    identityProviderId: uuid("identity_provider_id"),
    subject: text("subject"),
    createdAt: createdAt(),
  },
  (t) => [unique("users_provider_subject").on(t.identityProviderId, t.subject)],
);

/**
 * Failed passwords of one account from one source (an IPv4 address or an IPv6 /64): the lockout
 * of the password step is kept per (account, source), so a remote party locks out only itself.
 */
export const signInFailures = pgTable(
  "sign_in_failures",
  {
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    source: text("source").notNull(),
    failures: integer("failures").notNull().default(0),
    lockedUntil: at("locked_until"),
    lastFailureAt: at("last_failure_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.source] })],
);
