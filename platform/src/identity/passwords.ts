// Password hashing (Argon2id), the password policy, and generated one-time passwords. Checks run
// through one fair queue: at most one per core at a time, taken in turn from the sources waiting,
// so one source's flood of sign-ins cannot starve another's.
import { availableParallelism } from "node:os";
import { passwordProblems as commonPasswordProblems, passwordRules } from "@meetpoint/common";
import { generateRandomString, type RandomReader } from "@oslojs/crypto/random";

/**
 * Runs tasks at most `concurrency` at a time; when a slot frees, the next task comes from the
 * next source in turn (round robin), not from whoever queued most.
 */
export class FairQueue {
  private running = 0;
  private readonly waiting = new Map<string, (() => void)[]>();
  /** Sources with waiting tasks, in the order they get their turn. */
  private readonly turns: string[] = [];

  constructor(readonly concurrency: number) {}

  async run<T>(source: string, task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      await new Promise<void>((start) => {
        const queue = this.waiting.get(source);
        if (queue) queue.push(start);
        else {
          this.waiting.set(source, [start]);
          this.turns.push(source);
        }
      });
    } else this.running++;
    try {
      return await task();
    } finally {
      this.next();
    }
  }

  /** Hands the freed slot to the next source in turn, or frees it. */
  private next(): void {
    const source = this.turns.shift();
    if (source === undefined) {
      this.running--;
      return;
    }
    const queue = this.waiting.get(source) ?? [];
    const start = queue.shift();
    if (queue.length > 0) this.turns.push(source);
    else this.waiting.delete(source);
    start?.();
  }
}

/**
 * The process's password checks: one Argon2id at a time per core but one, which stays free for
 * the event loop and the embedded database (with every core hashing, a waiting request's own
 * database work and hash queue behind the flood's).
 */
const checks = new FairQueue(Math.max(1, availableParallelism() - 1));

/** Argon2id with Bun's defaults (64 MiB, t=2). */
export function hashPassword(password: string): Promise<string> {
  return Bun.password.hash(password, { algorithm: "argon2id" });
}

// Verified when the user is unknown, so that the answer takes as long as for a known user.
let dummyHash: Promise<string> | null = null;

/**
 * Checks a password, in `source`'s turn (the client's address; default one shared turn); with a
 * null hash it still spends the time of a real check, then fails.
 */
export async function verifyPassword(
  password: string,
  hash: string | null,
  source = "local",
): Promise<boolean> {
  if (hash === null) {
    dummyHash ??= hashPassword("meetpoint-timing-equaliser");
    const dummy = await dummyHash;
    await checks.run(source, () => Bun.password.verify(password, dummy));
    return false;
  }
  return checks.run(source, () => Bun.password.verify(password, hash));
}

export { MIN_PASSWORD_LENGTH } from "@meetpoint/common";

/** How the portal names the part of the rule about the username. */
const USERNAME = { accountLabel: "your username" } as const;

/** The password rule as the portal lists it up front, for the account `username`. */
export function portalPasswordRules(username: string): string[] {
  return passwordRules({ ...USERNAME, accountName: username });
}

/** Every part of the rule a new password breaks (reuse aside); empty when it is acceptable. */
export function passwordProblems(password: string, username: string): string[] {
  return commonPasswordProblems(password, { ...USERNAME, accountName: username });
}

/** Why a new password is not acceptable (the first broken part), or null when it is. */
export function passwordProblem(password: string, username: string): string | null {
  return passwordProblems(password, username)[0] ?? null;
}

/** Letters and digits that cannot be mistaken for one another when read aloud or typed (no 0/O, 1/l/I). */
export const PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/** Length of a generated password, in characters (about 115 bits with the 55-character alphabet). */
export const GENERATED_PASSWORD_LENGTH = 20;

const cryptoRandom: RandomReader = { read: (bytes) => crypto.getRandomValues(bytes) };

/**
 * A random password for bootstrap and resets: 20 characters from PASSWORD_ALPHABET, each drawn
 * uniformly (rejection sampling, not a biased `byte % 55`). `random` defaults to the system CSPRNG.
 */
export function randomPassword(random: RandomReader = cryptoRandom): string {
  return generateRandomString(random, PASSWORD_ALPHABET, GENERATED_PASSWORD_LENGTH);
}
