// The operator's account on the gateway: one password (Argon2id), the initial one must be replaced
// at first sign-in and no earlier password may come back; failed attempts slow the next ones down;
// sessions live in memory (a restart signs everyone out); the local consent API uses a bearer token.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { passwordProblems } from "@meetpoint/common";
import type { Store } from "../state/store.ts";

export interface OperatorSession {
  id: string;
  csrf: string;
  mustChangePassword: boolean;
  lastSeen: number;
  /** A secret waiting for its one showing (the new API token), under a random id. */
  shownOnce?: { id: string; secret: string };
  /** An uploaded enrollment bundle, checked and shown, waiting for the operator's confirmation. */
  pendingBundle?: { id: string; text: string };
}

const IDLE_MS = 15 * 60_000;
const FREE_FAILURES = 3;
const MAX_DELAY_MS = 5 * 60_000;

export { MIN_PASSWORD_LENGTH } from "@meetpoint/common";

/** Why a password change was refused, and the field it is about. */
export interface PasswordRefusal {
  field: "current" | "next";
  message: string;
}

/** Milliseconds a client waits after its `count`-th wrong password in a row: 0, then 2 s doubling. */
function backOff(count: number): number {
  return count <= FREE_FAILURES ? 0 : Math.min(MAX_DELAY_MS, 1000 * 2 ** (count - FREE_FAILURES));
}

const token = () => randomBytes(32).toString("base64url");
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

export type SignIn =
  | { ok: true; session: OperatorSession }
  /** `blocked`: refused without checking, the client must wait `retryAfterSeconds`. */
  | { ok: false; message: string; retryAfterSeconds: number; blocked: boolean };

export class OperatorAuth {
  private sessions = new Map<string, OperatorSession>();
  /** Failed sign-ins per client address: count and when the next attempt is allowed. */
  private failures = new Map<string, { count: number; until: number }>();

  constructor(
    private readonly store: Store,
    private readonly initialPassword: string,
    private readonly now: () => number = Date.now,
  ) {}

  private async matches(password: string): Promise<boolean> {
    const hash = this.store.operator().passwordHash;
    if (hash) return Bun.password.verify(password, hash).catch(() => false);
    const a = Buffer.from(sha256(password));
    const b = Buffer.from(sha256(this.initialPassword));
    return timingSafeEqual(a, b);
  }

  /**
   * Checks the operator password for `client` (its address). An attempt is counted as a failure
   * before the password is checked — nothing awaits between the look at the count and its
   * increment — so parallel guesses wait their turn like sequential ones; a right password
   * clears the count.
   */
  async signIn(password: string, client: string): Promise<SignIn> {
    const now = this.now();
    const failed = this.failures.get(client) ?? { count: 0, until: 0 };
    if (failed.until > now) {
      const retryAfterSeconds = Math.ceil((failed.until - now) / 1000);
      return {
        ok: false,
        message: `Too many wrong passwords: wait ${retryAfterSeconds} s before the next try.`,
        retryAfterSeconds,
        blocked: true,
      };
    }
    const count = failed.count + 1;
    const delay = backOff(count);
    this.failures.set(client, { count, until: now + delay });
    if (!(await this.matches(password))) {
      return {
        ok: false,
        message: "Wrong password.",
        retryAfterSeconds: Math.ceil(delay / 1000),
        blocked: false,
      };
    }
    this.failures.delete(client);
    const session: OperatorSession = {
      id: token(),
      csrf: token(),
      mustChangePassword: this.store.operator().passwordHash === null,
      lastSeen: now,
    };
    this.sessions.set(session.id, session);
    return { ok: true, session };
  }

  /** The live session for a cookie value, or null (unknown, signed out, idle too long). */
  session(id: string | undefined): OperatorSession | null {
    if (!id) return null;
    const session = this.sessions.get(id);
    if (!session) return null;
    if (this.now() - session.lastSeen > IDLE_MS) {
      this.sessions.delete(id);
      return null;
    }
    session.lastSeen = this.now();
    return session;
  }

  signOut(id: string): void {
    this.sessions.delete(id);
  }

  /**
   * Changes the password (the rule common to every Meetpoint account, and none used before);
   * every other session ends. Returns why it was refused, naming every broken part, or null.
   */
  async changePassword(
    session: OperatorSession,
    current: string,
    next: string,
  ): Promise<PasswordRefusal | null> {
    if (!(await this.matches(current)))
      return { field: "current", message: "The current password is wrong." };
    const account = this.store.operator();
    const problems = passwordProblems(next);
    let reused = next === this.initialPassword || next === current;
    for (const hash of [account.passwordHash, ...account.previousHashes]) {
      if (reused) break;
      if (hash && (await Bun.password.verify(next, hash).catch(() => false))) reused = true;
    }
    if (reused) problems.push("was used before: choose a password that was not used before");
    if (problems.length)
      return { field: "next", message: `The new password ${problems.join("; ")}.` };
    const hash = await Bun.password.hash(next, { algorithm: "argon2id" });
    this.store.saveOperator({
      ...account,
      passwordHash: hash,
      previousHashes: [account.passwordHash, ...account.previousHashes]
        .filter((h): h is string => h !== null)
        .slice(0, 10),
    });
    for (const id of this.sessions.keys()) if (id !== session.id) this.sessions.delete(id);
    session.mustChangePassword = false;
    // A new session id after the change, like after any sign-in step.
    this.sessions.delete(session.id);
    session.id = token();
    this.sessions.set(session.id, session);
    return null;
  }

  /** A new local consent API token (shown once); the previous one stops working. */
  newApiToken(): string {
    const value = token();
    this.store.saveOperator({ ...this.store.operator(), apiTokenHash: sha256(value) });
    return value;
  }

  hasApiToken(): boolean {
    return this.store.operator().apiTokenHash !== null;
  }

  apiTokenValid(value: string): boolean {
    const hash = this.store.operator().apiTokenHash;
    if (!hash || !value) return false;
    return timingSafeEqual(Buffer.from(hash), Buffer.from(sha256(value)));
  }
}
