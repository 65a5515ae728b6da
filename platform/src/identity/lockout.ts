// The lockout of local accounts, kept in the database so that parallel attempts count: an attempt
// is counted as a failure *before* its password or code is checked, in one UPDATE … RETURNING
// that also refuses it when the account is locked; an attempt that turns out right takes its
// count back. PostgreSQL serialises the UPDATEs on the user's row (READ COMMITTED re-checks the
// WHERE after a concurrent update commits); PGlite runs one statement at a time. Either way, after
// FREE_FAILURES counted attempts the account is locked whatever the concurrency.
import { eq, type SQL, sql } from "drizzle-orm";
import { type Db, users } from "../db/index.ts";

type User = typeof users.$inferSelect;

/** Failures allowed before the account locks; each further failure doubles the lock. */
export const FREE_FAILURES = 5;
/** The first lock, in milliseconds (after FREE_FAILURES failures). */
export const FIRST_LOCK_MS = 30_000;
/** The longest lock, in milliseconds. */
export const MAX_LOCK_MS = 3_600_000;
// 2^7 × 30 s already exceeds the longest lock: the exponent stops there (no float overflow).
const MAX_DOUBLINGS = 7;

/** Milliseconds an account is locked after `failures` failures in a row (0: not locked). */
export function lockDuration(failures: number): number {
  if (failures < FREE_FAILURES) return 0;
  return Math.min(
    FIRST_LOCK_MS * 2 ** Math.min(failures - FREE_FAILURES, MAX_DOUBLINGS),
    MAX_LOCK_MS,
  );
}

/** lockDuration() of `failures` in SQL, as an interval. */
function lockIntervalSql(failures: SQL): SQL {
  return sql`least(${FIRST_LOCK_MS} * power(2, least(${failures} - ${FREE_FAILURES}, ${MAX_DOUBLINGS})), ${MAX_LOCK_MS}) * interval '1 millisecond'`;
}

/**
 * Counts an attempt on the enabled, unlocked account that `where` selects, as a failure until
 * proven otherwise, and locks the account when this count reaches FREE_FAILURES. Returns the
 * account as it is now (failedSignIns includes this attempt), or null when there is none to try:
 * unknown, disabled or locked at `now`.
 */
export async function startAttempt(db: Db, now: Date, where: SQL): Promise<User | null> {
  const at = now.toISOString();
  const next = sql`${users.failedSignIns} + 1`;
  const [user] = await db
    .update(users)
    .set({
      failedSignIns: next,
      lockedUntil: sql`case when ${next} >= ${FREE_FAILURES} then ${at}::timestamptz + ${lockIntervalSql(next)} else null end`,
    })
    .where(
      sql`${where} and ${users.disabledAt} is null and (${users.lockedUntil} is null or ${users.lockedUntil} <= ${at}::timestamptz)`,
    )
    .returning();
  return user ?? null;
}

/**
 * An attempt turned out right: its count is taken back, and a lock it alone caused goes; the
 * failures of other attempts stay counted.
 */
export async function takeBackAttempt(db: Db, userId: string): Promise<void> {
  const previous = sql`greatest(${users.failedSignIns} - 1, 0)`;
  await db
    .update(users)
    .set({
      failedSignIns: previous,
      lockedUntil: sql`case when ${previous} >= ${FREE_FAILURES} then ${users.lockedUntil} else null end`,
    })
    .where(eq(users.id, userId));
}

/** The account's lock, read after startAttempt() found nothing to try. */
export async function accountState(
  db: Db,
  where: SQL,
): Promise<Pick<User, "id" | "disabledAt" | "lockedUntil"> | null> {
  const [user] = await db
    .select({ id: users.id, disabledAt: users.disabledAt, lockedUntil: users.lockedUntil })
    .from(users)
    .where(where);
  return user ?? null;
}
