// Consumers of the audit log that must see every entry once, in order (each SIEM destination, the
// alerts): how far each has got. The audit log holds what is still to process, so this spool is
// durable and takes no copy of the entries.
import { bigint, pgTable, text } from "drizzle-orm/pg-core";
import { at } from "./columns.ts";

export const auditCursors = pgTable("audit_cursors", {
  /** "siem:<destination name>" or "alerts". */
  consumer: text("consumer").primaryKey(),
  /** Sequence number of the last audit entry processed (delivered, or skipped by a filter); 0: none. */
  lastSeq: bigint("last_seq", { mode: "number" }).notNull().default(0),
  /** The platform instance working on it now, and until when its lease holds. */
  leaseHolder: text("lease_holder"),
  leaseUntil: at("lease_until"),
  updatedAt: at("updated_at"),
});
