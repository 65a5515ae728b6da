// The one password rule of every Meetpoint account: portal users and the gateway's operator alike.
// Both pages list the whole rule before anything is typed, and a refusal names every part broken.

/** Fewest characters a password may have. */
export const MIN_PASSWORD_LENGTH = 12;
/** Most characters a password may have. */
export const MAX_PASSWORD_LENGTH = 256;
/** Fewest different characters a password must use. */
const MIN_DIFFERENT = 5;

/** What a new password is checked against besides itself. */
export interface PasswordContext {
  /** The account's name, which the password must not contain (the portal's username). */
  accountName?: string;
  /** The visible name of that account name, as the rule says it ("your username"). */
  accountLabel?: string;
}

/** The rule, one line per part, in the words both pages show up front. */
export function passwordRules(context: PasswordContext = {}): string[] {
  return [
    `at least ${MIN_PASSWORD_LENGTH} and at most ${MAX_PASSWORD_LENGTH} characters`,
    `at least ${MIN_DIFFERENT} different characters`,
    ...(context.accountName !== undefined
      ? [`not containing ${context.accountLabel ?? "the account's name"}`]
      : []),
    "not the current password, nor one used before",
  ];
}

/**
 * The parts of the rule `password` breaks that can be told from the text alone (every one, not
 * just the first); reuse is checked by the caller, who holds the earlier passwords' hashes.
 */
export function passwordProblems(password: string, context: PasswordContext = {}): string[] {
  const problems: string[] = [];
  if (password.length < MIN_PASSWORD_LENGTH)
    problems.push(`has ${password.length} characters: it needs at least ${MIN_PASSWORD_LENGTH}`);
  if (password.length > MAX_PASSWORD_LENGTH)
    problems.push(`has ${password.length} characters: at most ${MAX_PASSWORD_LENGTH} are allowed`);
  if (new Set(password).size < MIN_DIFFERENT)
    problems.push(`uses too few different characters: it needs at least ${MIN_DIFFERENT}`);
  const name = context.accountName?.trim().toLowerCase();
  if (name && password.toLowerCase().includes(name))
    problems.push(`contains ${context.accountLabel ?? "the account's name"}`);
  return problems;
}
