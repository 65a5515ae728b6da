// Alerts: who is told of what (subscriptions, per user or per customer), the durable outbox of
// deliveries with their retries, and the state of conditions that alert once (a gateway offline).
import { sql } from "drizzle-orm";
import { boolean, index, integer, jsonb, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { at, createdAt, id } from "./columns.ts";
import { customers } from "./customers.ts";
import { users } from "./users.ts";

/** What can be alerted on. */
export const ALERT_EVENTS = [
  "approval_pending", // a request awaits approval
  "session_started", // a remote session became active
  "session_ended", // a remote session ended
  "gateway_offline", // no heartbeat from a gateway for longer than the threshold
  "sign_in_failures", // repeated failed sign-ins of one account or from one address
  "audit_verify_failed", // the scheduled verification of the audit chain failed
  "pki_renewal_failed", // the CRL or a certificate could not be renewed
  "siem_backlog", // a SIEM destination's spool passed its alarm size
  "admin_granted", // someone became a platform admin (the four-eyes rule counts admins)
  "template_change_pending", // a workspace template change awaits a second admin's approval
] as const;
export type AlertEvent = (typeof ALERT_EVENTS)[number];

export const ALERT_CHANNELS = ["email", "webhook"] as const;
export type AlertChannel = (typeof ALERT_CHANNELS)[number];

export const alertSubscriptions = pgTable("alert_subscriptions", {
  id: id(),
  /** A personal subscription (the user's own scope applies), or null for a customer's. */
  userId: uuid("user_id").references(() => users.id, { onDelete: "cascade" }),
  /** Events of this customer only; null: platform-wide (platform admins only). */
  customerId: uuid("customer_id").references(() => customers.id, { onDelete: "cascade" }),
  channel: text("channel", { enum: ALERT_CHANNELS }).notNull(),
  /** An email address or an https:// webhook URL. */
  target: text("target").notNull(),
  /** Webhooks: the HMAC key, sealed with the KEK. */
  sealedSecret: text("sealed_secret"),
  events: jsonb("events").$type<AlertEvent[]>().notNull(),
  enabled: boolean("enabled").notNull().default(true),
  createdBy: uuid("created_by"),
  createdAt: createdAt(),
});

export const alertDeliveries = pgTable(
  "alert_deliveries",
  {
    id: id(),
    subscriptionId: uuid("subscription_id")
      .notNull()
      .references(() => alertSubscriptions.id, { onDelete: "cascade" }),
    event: text("event", { enum: ALERT_EVENTS }).notNull(),
    /** The alert as sent: JSON body of a webhook, the facts of an email. */
    payload: jsonb("payload").notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: at("next_attempt_at").notNull(),
    deliveredAt: at("delivered_at"),
    /** Set when it was given up after the last attempt. */
    failedAt: at("failed_at"),
    lastError: text("last_error"),
    createdAt: createdAt(),
  },
  (t) => [
    index("alert_deliveries_due")
      .on(t.nextAttemptAt)
      .where(sql`delivered_at is null and failed_at is null`),
  ],
);

/** Conditions that alert once until they clear (key: "gateway_offline:<id>"). */
export const alertStates = pgTable("alert_states", {
  key: text("key").primaryKey(),
  since: at("since").notNull(),
  detail: jsonb("detail"),
});
