// The lockout of local accounts, kept in the database so that parallel attempts count: an attempt
// is counted as a failure *before* its password or code is checked, and refused when locked; an
// attempt that turns out right takes its count back.
//
// The password step counts per (account, source): a source (an IPv4 address, an IPv6 /64) that
// fails FREE_FAILURES times is locked out of that account (30 s, doubling to an hour), and only
// that source — an anonymous party cannot lock anyone else out. Against many sources at once,
// a global slow-down: once an account has GLOBAL_SLOWDOWN_AFTER failures from all sources within
// a day, every source has a single free try before its own lock starts. The owner, from a source
// of their own, always gets their try. The steps after the password (TOTP, password change) need
// the password, so their failures lock the account itself (users.failed_sign_ins).
//
// Counting happens in one transaction that locks the account's row (SELECT … FOR UPDATE), so
// PostgreSQL serialises parallel attempts on one account; PGlite runs one statement at a time.
import { and, eq, gt, isNull, lte, or, type SQL, sql } from "drizzle-orm";
import { type Db, inTransaction, signInFailures, users } from "../db/index.ts";

type User = typeof users.$inferSelect;

/** Failures allowed before the account locks; each further failure doubles the lock. */
export const FREE_FAILURES = 5;
/** The first lock, in milliseconds (after FREE_FAILURES failures). */
export const FIRST_LOCK_MS = 30_000;
/** The longest lock, in milliseconds. */
export const MAX_LOCK_MS = 3_600_000;
// 2^7 × 30 s already exceeds the longest lock: the exponent stops there (no float overflow).
const MAX_DOUBLINGS = 7;

/** Failures of one account from all sources within a day after which each source gets one try. */
export const GLOBAL_SLOWDOWN_AFTER = 20;
const GLOBAL_WINDOW_MS = 86_400_000;

/**
 * Milliseconds locked after `failures` failures in a row (0: not locked), when `free` of them are
 * free (FREE_FAILURES; 1 during the global slow-down).
 */
export function lockDuration(failures: number, free = FREE_FAILURES): number {
  if (failures < free) return 0;
  return Math.min(FIRST_LOCK_MS * 2 ** Math.min(failures - free, MAX_DOUBLINGS), MAX_LOCK_MS);
}

/** lockDuration() of `failures` in SQL, as an interval. */
function lockIntervalSql(failures: SQL, free: number = FREE_FAILURES): SQL {
  return sql`least(${FIRST_LOCK_MS} * power(2, least(${failures} - ${free}, ${MAX_DOUBLINGS})), ${MAX_LOCK_MS}) * interval '1 millisecond'`;
}

/** A password attempt counted for an account from a source. */
export interface PasswordAttempt {
  user: User;
  /** Failures of this source on this account, this attempt included. */
  failures: number;
  /** Free failures of a source now (FREE_FAILURES, or 1 during the global slow-down). */
  free: number;
}

/**
 * Counts a password attempt on the enabled account that `where` selects, from `source`, as a
 * failure until proven otherwise, locking the source out of the account when its count reaches
 * the free failures. Null when there is nothing to try: unknown, disabled, locked at a later
 * step, or this source locked out at `now`.
 */
export async function startPasswordAttempt(
  db: Db,
  now: Date,
  where: SQL,
  source: string,
): Promise<PasswordAttempt | null> {
  const at = now.toISOString();
  return inTransaction(db, async (tx) => {
    const [user] = await tx
      .select()
      .from(users)
      .where(
        and(
          where,
          isNull(users.disabledAt),
          or(isNull(users.lockedUntil), lte(users.lockedUntil, now)),
        ),
      )
      .for("update");
    if (!user) return null;
    const [all] = await tx
      .select({ n: sql<number>`coalesce(sum(${signInFailures.failures}), 0)::int` })
      .from(signInFailures)
      .where(
        and(
          eq(signInFailures.userId, user.id),
          gt(signInFailures.lastFailureAt, new Date(now.getTime() - GLOBAL_WINDOW_MS)),
        ),
      );
    const free = (all?.n ?? 0) >= GLOBAL_SLOWDOWN_AFTER ? 1 : FREE_FAILURES;
    const next = sql`${signInFailures.failures} + 1`;
    const [row] = await tx
      .insert(signInFailures)
      .values({
        userId: user.id,
        source,
        failures: 1,
        lastFailureAt: now,
        lockedUntil: free <= 1 ? new Date(now.getTime() + lockDuration(1, free)) : null,
      })
      .onConflictDoUpdate({
        target: [signInFailures.userId, signInFailures.source],
        set: {
          failures: next,
          lastFailureAt: now,
          lockedUntil: sql`case when ${next} >= ${free} then ${at}::timestamptz + ${lockIntervalSql(next, free)} else null end`,
        },
        setWhere: sql`${signInFailures.lockedUntil} is null or ${signInFailures.lockedUntil} <= ${at}::timestamptz`,
      })
      .returning();
    return row ? { user, failures: row.failures, free } : null;
  });
}

/**
 * A password attempt turned out right: its count is taken back, and the source's lock goes
 * unless other failures of that source alone reach it.
 */
export async function takeBackPasswordAttempt(
  db: Db,
  userId: string,
  source: string,
): Promise<void> {
  const previous = sql`greatest(${signInFailures.failures} - 1, 0)`;
  await db
    .update(signInFailures)
    .set({
      failures: previous,
      lockedUntil: sql`case when ${previous} >= ${FREE_FAILURES} then ${signInFailures.lockedUntil} else null end`,
    })
    .where(and(eq(signInFailures.userId, userId), eq(signInFailures.source, source)));
}

/** Whether `source` is locked out of the account at `now` (read after nothing could be tried). */
export async function sourceLocked(
  db: Db,
  userId: string,
  source: string,
  now: Date,
): Promise<boolean> {
  const [row] = await db
    .select({ lockedUntil: signInFailures.lockedUntil })
    .from(signInFailures)
    .where(and(eq(signInFailures.userId, userId), eq(signInFailures.source, source)));
  return row?.lockedUntil !== undefined && row.lockedUntil !== null && row.lockedUntil > now;
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
