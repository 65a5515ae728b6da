// Leased cursors over the audit log for consumers that must process every entry once, in order
// (SIEM destinations, alerts): one platform instance at a time holds a consumer's lease.
import { and, asc, eq, gt, isNull, lt, max, or, sql } from "drizzle-orm";
import { auditCursors, auditEntries, type Db } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import type { AuditEntry } from "./log.ts";

/** How long a lease holds without renewal, in milliseconds. */
export const LEASE_MS = 30_000;

/**
 * Takes or renews `consumer`'s lease for `holder`; returns the cursor (last processed seq), or
 * null while another instance holds an unexpired lease.
 */
export async function leaseCursor(
  db: Db,
  clock: Clock,
  consumer: string,
  holder: string,
): Promise<number | null> {
  const now = clock.now();
  await db.insert(auditCursors).values({ consumer }).onConflictDoNothing();
  const [row] = await db
    .update(auditCursors)
    .set({ leaseHolder: holder, leaseUntil: new Date(now.getTime() + LEASE_MS) })
    .where(
      and(
        eq(auditCursors.consumer, consumer),
        or(
          isNull(auditCursors.leaseHolder),
          eq(auditCursors.leaseHolder, holder),
          lt(auditCursors.leaseUntil, now),
        ),
      ),
    )
    .returning({ lastSeq: auditCursors.lastSeq });
  return row ? row.lastSeq : null;
}

/** Moves the cursor forward (never back) while `holder` holds the lease. */
export async function advanceCursor(
  db: Db,
  clock: Clock,
  consumer: string,
  holder: string,
  seq: number,
): Promise<void> {
  await db
    .update(auditCursors)
    .set({ lastSeq: sql`greatest(${auditCursors.lastSeq}, ${seq})`, updatedAt: clock.now() })
    .where(and(eq(auditCursors.consumer, consumer), eq(auditCursors.leaseHolder, holder)));
}

/** Entries after `seq`, oldest first, at most `limit`. */
export function entriesAfter(db: Db, seq: number, limit: number): Promise<AuditEntry[]> {
  return db
    .select()
    .from(auditEntries)
    .where(gt(auditEntries.seq, seq))
    .orderBy(asc(auditEntries.seq))
    .limit(limit);
}

/** The newest entry's sequence number (0 for an empty log). */
export async function headSeq(db: Db): Promise<number> {
  const [row] = await db.select({ seq: max(auditEntries.seq) }).from(auditEntries);
  return Number(row?.seq ?? 0);
}
