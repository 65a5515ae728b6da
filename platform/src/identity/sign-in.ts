// Local accounts: password, TOTP, forced password change and TOTP enrolment, with lockout.
import { eq } from "drizzle-orm";
import { type Actor, recordAudit, recordAuditAlone } from "../audit/index.ts";
import { type Db, inTransaction, type SignInStage, users } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import { hashPassword, passwordProblem, verifyPassword } from "./passwords.ts";
import { verifyTotp } from "./totp.ts";

type User = typeof users.$inferSelect;

export type StepResult = { ok: true; stage: SignInStage } | { ok: false; message: string };

/** Failures allowed before the account locks; each further failure doubles the lock. */
export const FREE_FAILURES = 5;
const FIRST_LOCK_MS = 30_000;
const MAX_LOCK_MS = 3_600_000;

export function lockDuration(failures: number): number {
  if (failures < FREE_FAILURES) return 0;
  return Math.min(FIRST_LOCK_MS * 2 ** (failures - FREE_FAILURES), MAX_LOCK_MS);
}

function stageAfterPassword(user: User): SignInStage {
  if (user.totpConfirmedAt) return "totp";
  return user.mustChangePassword ? "change_password" : "enrol_totp";
}

function stageAfterTotp(user: User): SignInStage {
  return user.mustChangePassword ? "change_password" : "ready";
}

function lockedMessage(until: Date, now: Date): string {
  const minutes = Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 60_000));
  return `Too many failed attempts. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`;
}

const WRONG = "Wrong username or password.";

async function countFailure(
  db: Db,
  clock: Clock,
  user: User,
  actor: Actor,
  reason: string,
): Promise<void> {
  const failures = user.failedSignIns + 1;
  const lockMs = lockDuration(failures);
  await inTransaction(db, async (tx) => {
    await tx
      .update(users)
      .set({
        failedSignIns: failures,
        lockedUntil: lockMs ? new Date(clock.now().getTime() + lockMs) : null,
      })
      .where(eq(users.id, user.id));
    await recordAudit(tx, clock, {
      actor,
      action: "sign_in",
      target: { type: "user", id: user.id },
      result: "failed",
      detail: { reason, failures, lockedForSeconds: lockMs / 1000 },
    });
  });
}

/** First step: username and password. On success the session starts at the returned stage. */
export async function signInWithPassword(
  db: Db,
  clock: Clock,
  input: { username: string; password: string; ip: string },
): Promise<StepResult & { userId?: string }> {
  const username = input.username.trim().slice(0, 100);
  const [user] = await db.select().from(users).where(eq(users.username, username));
  const actor: Actor = { id: user?.id ?? null, name: username || "(empty)", ip: input.ip };
  const now = clock.now();

  if (user?.lockedUntil && user.lockedUntil > now) {
    await recordAuditAlone(db, clock, {
      actor,
      action: "sign_in",
      target: { type: "user", id: user.id },
      result: "denied",
      detail: { reason: "locked" },
    });
    return { ok: false, message: lockedMessage(user.lockedUntil, now) };
  }
  const passwordOk = await verifyPassword(input.password, user?.passwordHash ?? null);
  if (!user || user.disabledAt || !passwordOk) {
    if (user && !user.disabledAt) {
      await countFailure(db, clock, user, actor, "wrong password");
      const locked = lockDuration(user.failedSignIns + 1);
      if (locked)
        return { ok: false, message: lockedMessage(new Date(now.getTime() + locked), now) };
    } else {
      await recordAuditAlone(db, clock, {
        actor,
        action: "sign_in",
        result: "failed",
        detail: { reason: user ? "account disabled" : "unknown user" },
      });
    }
    return { ok: false, message: WRONG };
  }
  return { ok: true, stage: stageAfterPassword(user), userId: user.id };
}

async function loadUser(db: Db, userId: string): Promise<User> {
  const [user] = await db.select().from(users).where(eq(users.id, userId));
  if (!user) throw new Error(`user ${userId} vanished during sign-in`);
  return user;
}

/** Second step: the TOTP code. Failures count toward the same lockout as passwords. */
export async function verifySecondFactor(
  db: Db,
  clock: Clock,
  input: { userId: string; code: string; actor: Actor },
): Promise<StepResult> {
  const user = await loadUser(db, input.userId);
  const now = clock.now();
  if (user.lockedUntil && user.lockedUntil > now)
    return { ok: false, message: lockedMessage(user.lockedUntil, now) };
  const step = user.totpKey
    ? verifyTotp(user.totpKey, input.code.trim(), now, user.totpLastStep)
    : null;
  if (step === null) {
    await countFailure(db, clock, user, input.actor, "wrong TOTP code");
    return { ok: false, message: "Wrong or already used code." };
  }
  const stage = stageAfterTotp(user);
  await inTransaction(db, async (tx) => {
    await tx
      .update(users)
      .set({ totpLastStep: step, failedSignIns: 0, lockedUntil: null })
      .where(eq(users.id, user.id));
    if (stage === "ready") await auditSignedIn(tx, clock, input.actor, user.id);
  });
  return { ok: true, stage };
}

function auditSignedIn(tx: Db, clock: Clock, actor: Actor, userId: string): Promise<void> {
  return recordAudit(tx, clock, {
    actor,
    action: "sign_in",
    target: { type: "user", id: userId },
    detail: { method: "password+totp" },
  });
}

/** Forced change of the initial password; the new one must differ from the old. */
export async function changePassword(
  db: Db,
  clock: Clock,
  input: { userId: string; current: string; next: string; actor: Actor },
): Promise<StepResult> {
  const user = await loadUser(db, input.userId);
  if (!(await verifyPassword(input.current, user.passwordHash))) {
    await countFailure(db, clock, user, input.actor, "wrong current password at password change");
    return { ok: false, message: "The current password is wrong." };
  }
  const problem = passwordProblem(input.next, user.username);
  if (problem) return { ok: false, message: `The new password ${problem}.` };
  if (input.next === input.current)
    return { ok: false, message: "The new password must differ from the current one." };
  const passwordHash = await hashPassword(input.next);
  const stage: SignInStage = user.totpConfirmedAt ? "ready" : "enrol_totp";
  await inTransaction(db, async (tx) => {
    await tx
      .update(users)
      .set({ passwordHash, mustChangePassword: false })
      .where(eq(users.id, user.id));
    await recordAudit(tx, clock, {
      actor: input.actor,
      action: "account.password_change",
      target: { type: "user", id: user.id },
    });
    if (stage === "ready") await auditSignedIn(tx, clock, input.actor, user.id);
  });
  return { ok: true, stage };
}

/** The TOTP key being enrolled: created on first view, kept until confirmed. */
export async function pendingTotpKey(
  db: Db,
  userId: string,
  newKey: () => string,
): Promise<string> {
  const user = await loadUser(db, userId);
  if (user.totpKey && !user.totpConfirmedAt) return user.totpKey;
  const key = newKey();
  await db.update(users).set({ totpKey: key, totpConfirmedAt: null }).where(eq(users.id, userId));
  return key;
}

/** Confirms enrolment with a first code from the authenticator app. */
export async function confirmTotpEnrolment(
  db: Db,
  clock: Clock,
  input: { userId: string; code: string; actor: Actor },
): Promise<StepResult> {
  const user = await loadUser(db, input.userId);
  const step = user.totpKey ? verifyTotp(user.totpKey, input.code.trim(), clock.now(), null) : null;
  if (step === null)
    return {
      ok: false,
      message: "That code does not match. Check the time on your phone and try the next code.",
    };
  await inTransaction(db, async (tx) => {
    await tx
      .update(users)
      .set({ totpConfirmedAt: clock.now(), totpLastStep: step })
      .where(eq(users.id, user.id));
    await recordAudit(tx, clock, {
      actor: input.actor,
      action: "account.totp_enrol",
      target: { type: "user", id: user.id },
    });
    await auditSignedIn(tx, clock, input.actor, user.id);
  });
  return { ok: true, stage: "ready" };
}
