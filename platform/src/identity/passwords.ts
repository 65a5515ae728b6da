// Password hashing (Argon2id), the password policy, and generated one-time passwords.
import { passwordProblems as commonPasswordProblems, passwordRules } from "@meetpoint/common";
import { generateRandomString, type RandomReader } from "@oslojs/crypto/random";

/** Argon2id with Bun's defaults (64 MiB, t=2). */
export function hashPassword(password: string): Promise<string> {
  return Bun.password.hash(password, { algorithm: "argon2id" });
}

// Verified when the user is unknown, so that the answer takes as long as for a known user.
let dummyHash: Promise<string> | null = null;

/** Checks a password; with a null hash it still spends the time of a real check, then fails. */
export async function verifyPassword(password: string, hash: string | null): Promise<boolean> {
  if (hash === null) {
    dummyHash ??= hashPassword("meetpoint-timing-equaliser");
    await Bun.password.verify(password, await dummyHash);
    return false;
  }
  return Bun.password.verify(password, hash);
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
