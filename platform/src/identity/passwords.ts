// Password hashing (Argon2id) and the password policy.

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

export const MIN_PASSWORD_LENGTH = 12;

/** Why a new password is not acceptable, or null when it is. */
export function passwordProblem(password: string, username: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH)
    return `must have at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > 256) return "must have at most 256 characters";
  if (password.toLowerCase().includes(username.toLowerCase()))
    return "must not contain the username";
  if (new Set(password).size < 5) return "must use more different characters";
  return null;
}

/** A random password for bootstrap and resets: 20 characters from an unambiguous alphabet. */
export function randomPassword(): string {
  const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}
