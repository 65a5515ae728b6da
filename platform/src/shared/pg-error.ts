// Recognises PostgreSQL errors by SQLSTATE through the wrappers drizzle and the drivers add.
export interface PgErrorInfo {
  code: string;
  constraint: string | null;
}

/** The SQLSTATE and constraint of a database error, or null when `error` is something else. */
export function pgError(error: unknown): PgErrorInfo | null {
  for (let e = error, depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    const candidate = e as {
      code?: unknown;
      constraint?: unknown;
      constraint_name?: unknown;
      cause?: unknown;
    };
    if (typeof candidate.code === "string" && /^[0-9A-Z]{5}$/.test(candidate.code)) {
      const constraint = candidate.constraint ?? candidate.constraint_name;
      return {
        code: candidate.code,
        constraint: typeof constraint === "string" ? constraint : null,
      };
    }
    e = candidate.cause;
  }
  return null;
}

export const UNIQUE_VIOLATION = "23505";
export const FOREIGN_KEY_VIOLATION = "23503";
export const RESTRICT_VIOLATION = "23001";

/**
 * Whether `error` says the database cannot be reached at all (refused, reset, timed out, shut
 * down, its name gone — as when its container stops) rather than that a statement failed.
 */
export function databaseUnreachable(error: unknown): boolean {
  for (let e = error, depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    const candidate = e as { code?: unknown; message?: unknown; cause?: unknown };
    const code = typeof candidate.code === "string" ? candidate.code : "";
    if (
      /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|CONNECT_TIMEOUT|CONNECTION_\w+|57P0[1-3]|08\d{3})$/.test(
        code,
      ) ||
      /connect(ion)? (refused|terminated|ended|closed)|Connection terminated/i.test(
        String(candidate.message ?? ""),
      )
    )
      return true;
    e = candidate.cause;
  }
  return false;
}
