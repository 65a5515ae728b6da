// The audit log: append-only and hash-chained; a migration forbids UPDATE and DELETE.
import { sql } from "drizzle-orm";
import { bigserial, index, jsonb, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { at } from "./columns.ts";

export const AUDIT_RESULTS = ["ok", "denied", "failed"] as const;
export type AuditResult = (typeof AUDIT_RESULTS)[number];

export const auditEntries = pgTable(
  "audit_entries",
  {
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    at: at("at").notNull(),
    /** User id, or null for the platform itself and for unknown users (see actorName). */
    actorId: uuid("actor_id"),
    actorName: text("actor_name").notNull(),
    action: text("action").notNull(),
    targetType: text("target_type"),
    targetId: text("target_id"),
    /** The customer the entry concerns, for scoped reading; no foreign key: entries outlive data. */
    customerId: uuid("customer_id"),
    ip: text("ip"),
    result: text("result", { enum: AUDIT_RESULTS }).notNull(),
    detail: jsonb("detail").notNull(),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull().unique(),
  },
  // The transparency report reads a session's entries by detail->>'remoteSessionId' (reports/).
  (t) => [index("audit_entries_remote_session").on(sql`(${t.detail}->>'remoteSessionId')`)],
);
