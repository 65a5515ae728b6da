// Local accounts: password, TOTP, forced password change and TOTP enrolment, with lockout.
// Every attempt counts before it is checked (lockout.ts), so parallel guesses cannot outrun the
// lock; and the first step answers unknown, disabled, locked and wrong alike, in word and in time.
import { and, eq, isNull, lt, or } from "drizzle-orm";
import { type Actor, recordAudit, recordAuditAlone } from "../audit/index.ts";
import { type Db, inTransaction, type SignInStage, users } from "../db/index.ts";
import { type Clock, sourceOf } from "../shared/index.ts";
import {
  accountState,
  FIRST_LOCK_MS,
  FREE_FAILURES,
  lockDuration,
  MAX_LOCK_MS,
  startAttempt,
  startPasswordAttempt,
  takeBackAttempt,
  takeBackPasswordAttempt,
} from "./lockout.ts";
import { hashPassword, passwordProblems, verifyPassword } from "./passwords.ts";
import { verifyTotp } from "./totp.ts";

type User = typeof users.$inferSelect;

/**
 * A sign-in step's outcome; a refusal may name the form field it is about (`field`) and, for a new
 * password, every part of the rule it breaks (`problems`).
 */
export type StepResult =
  | { ok: true; stage: SignInStage }
  | { ok: false; message: string; field?: "current" | "next"; problems?: string[] };

function stageAfterPassword(user: User): SignInStage {
  if (user.totpConfirmedAt) return "totp";
  return user.mustChangePassword ? "change_password" : "enrol_totp";
}

function stageAfterTotp(user: User): SignInStage {
  return user.mustChangePassword ? "change_password" : "ready";
}

/** How long is left of a lock, as the user reads it: seconds under two minutes, else minutes. */
export function lockedMessage(until: Date | null, now: Date): string {
  const ms = until ? until.getTime() - now.getTime() : FIRST_LOCK_MS;
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  const left = seconds < 120 ? `${seconds} s` : `${Math.ceil(seconds / 60)} minutes`;
  return `Too many failed attempts: this account is locked. Try again in ${left}.`;
}

/**
 * The one answer of a failed first step, whatever failed: saying "locked" only to accounts that
 * exist would tell who has one.
 */
export const SIGN_IN_REFUSED = `Wrong username or password. After ${FREE_FAILURES} failed attempts an account is locked for ${FIRST_LOCK_MS / 1000} s, doubling with each further failure up to ${MAX_LOCK_MS / 3_600_000} hour: wait, then try again.`;

/** Audits a failure at a step after the password, which startAttempt already counted. */
function auditFailure(
  db: Db,
  clock: Clock,
  user: User,
  actor: Actor,
  action: "sign_in" | "account.password_change",
  reason: string,
) {
  return recordAuditAlone(db, clock, {
    actor,
    action,
    target: { type: "user", id: user.id },
    result: "failed",
    detail: {
      reason,
      failures: user.failedSignIns,
      lockedForSeconds: lockDuration(user.failedSignIns) / 1000,
    },
  });
}

/**
 * First step: username and password. On success the session starts at the returned stage.
 * `anonymous`: the username names no account, and nothing was audited — the caller audits such
 * attempts in aggregate per source (a flood of made-up names must not grow the log one by one).
 */
export async function signInWithPassword(
  db: Db,
  clock: Clock,
  input: { username: string; password: string; ip: string },
): Promise<StepResult & { userId?: string; anonymous?: boolean }> {
  // Usernames are kept in lower case (the unique rule): sign-in reads them the same way.
  const username = input.username.trim().toLowerCase().slice(0, 100);
  const source = sourceOf(input.ip);
  const byName = eq(users.username, username);
  const attempt = await startPasswordAttempt(db, clock.now(), byName, source);
  if (!attempt) {
    // Nothing to try: the same Argon2id work as a real check, then the same answer.
    await verifyPassword(input.password, null, source);
    const state = await accountState(db, byName);
    if (!state) return { ok: false, message: SIGN_IN_REFUSED, anonymous: true };
    const reason = state.disabledAt ? "account disabled" : "locked";
    await recordAuditAlone(db, clock, {
      actor: { id: state.id, name: username, ip: input.ip },
      action: "sign_in",
      target: { type: "user", id: state.id },
      result: reason === "locked" ? "denied" : "failed",
      detail: { reason, source },
    });
    return { ok: false, message: SIGN_IN_REFUSED };
  }
  const { user, failures, free } = attempt;
  if (!(await verifyPassword(input.password, user.passwordHash, source))) {
    await recordAuditAlone(db, clock, {
      actor: { id: user.id, name: username, ip: input.ip },
      action: "sign_in",
      target: { type: "user", id: user.id },
      result: "failed",
      detail: {
        reason: "wrong password",
        source,
        failures,
        lockedForSeconds: lockDuration(failures, free) / 1000,
        ...(free < FREE_FAILURES ? { slowdown: "many sources failed on this account" } : {}),
      },
    });
    return { ok: false, message: SIGN_IN_REFUSED };
  }
  await takeBackPasswordAttempt(db, user.id, source);
  return { ok: true, stage: stageAfterPassword(user), userId: user.id };
}

async function loadUser(db: Db, userId: string): Promise<User> {
  const [user] = await db.select().from(users).where(eq(users.id, userId));
  if (!user) throw new Error(`user ${userId} vanished during sign-in`);
  return user;
}

/**
 * A step after the password (TOTP, password change): counted, or refused while locked — and a
 * refusal audited like a counted failure, so attempts made while locked are seen too.
 */
async function startStep(
  db: Db,
  clock: Clock,
  userId: string,
  audit: { actor: Actor; action: "sign_in" | "account.password_change"; step: string },
): Promise<{ user: User } | { refused: string }> {
  const now = clock.now();
  const user = await startAttempt(db, now, eq(users.id, userId));
  if (user) return { user };
  const state = await accountState(db, eq(users.id, userId));
  await recordAuditAlone(db, clock, {
    actor: audit.actor,
    action: audit.action,
    target: { type: "user", id: userId },
    result: "denied",
    detail: {
      reason: state?.disabledAt ? "account disabled" : `locked (${audit.step})`,
      lockedUntil: state?.lockedUntil?.toISOString() ?? null,
    },
  });
  return { refused: lockedMessage(state?.lockedUntil ?? null, now) };
}

/**
 * Second step: the TOTP code. Failures count toward the same lockout as passwords, and a code is
 * spent by the same UPDATE that accepts it, so two requests cannot both use it.
 */
export async function verifySecondFactor(
  db: Db,
  clock: Clock,
  input: { userId: string; code: string; actor: Actor },
): Promise<StepResult> {
  const attempt = await startStep(db, clock, input.userId, {
    actor: input.actor,
    action: "sign_in",
    step: "second factor",
  });
  if ("refused" in attempt) return { ok: false, message: attempt.refused };
  const { user } = attempt;
  const step = user.totpKey
    ? verifyTotp(user.totpKey, input.code.trim(), clock.now(), user.totpLastStep)
    : null;
  const stage = stageAfterTotp(user);
  const accepted =
    step !== null &&
    (await inTransaction(db, async (tx) => {
      const [spent] = await tx
        .update(users)
        .set({ totpLastStep: step, failedSignIns: 0, lockedUntil: null })
        .where(
          and(eq(users.id, user.id), or(isNull(users.totpLastStep), lt(users.totpLastStep, step))),
        )
        .returning({ id: users.id });
      if (spent && stage === "ready") await auditSignedIn(tx, clock, input.actor, user.id);
      return spent !== undefined;
    }));
  if (!accepted) {
    await auditFailure(db, clock, user, input.actor, "sign_in", "wrong TOTP code");
    return { ok: false, message: "Wrong or already used code." };
  }
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
  const attempt = await startStep(db, clock, input.userId, {
    actor: input.actor,
    action: "account.password_change",
    step: "password change",
  });
  if ("refused" in attempt) return { ok: false, message: attempt.refused };
  const { user } = attempt;
  if (!(await verifyPassword(input.current, user.passwordHash, `user:${user.id}`))) {
    await auditFailure(
      db,
      clock,
      user,
      input.actor,
      "account.password_change",
      "wrong current password",
    );
    return { ok: false, message: "The current password is wrong.", field: "current" };
  }
  await takeBackAttempt(db, user.id);
  const problems = passwordProblems(input.next, user.username);
  if (input.next === input.current) problems.push("is the current password");
  if (problems.length)
    return {
      ok: false,
      message: `The new password ${problems.join("; ")}.`,
      field: "next",
      problems,
    };
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
