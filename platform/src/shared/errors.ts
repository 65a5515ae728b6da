// Domain errors: each kind maps to one HTTP status in the web layer's single onError.

/** Input that does not fit: names the field so the user knows what to fix. */
export class ValidationError extends Error {
  readonly status = 400;
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = "ValidationError";
  }
}

/** Unknown, or not visible to the caller: both answer alike, so ids of others leak nothing. */
export class NotFoundError extends Error {
  readonly status = 404;
  constructor(what: string) {
    super(`${what} not found`);
    this.name = "NotFoundError";
  }
}

export class ForbiddenError extends Error {
  readonly status = 403;
  constructor(message = "You are not allowed to do this.") {
    super(message);
    this.name = "ForbiddenError";
  }
}

/** The request clashes with existing data (duplicate name, address in use, pool exhausted). */
export class ConflictError extends Error {
  readonly status = 409;
  constructor(
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = "ConflictError";
  }
}

/** Nothing can be decided right now (the platform is recovering); try again in a moment. */
export class UnavailableError extends Error {
  readonly status = 503;
  constructor(message: string) {
    super(message);
    this.name = "UnavailableError";
  }
}

export type DomainError =
  | ValidationError
  | NotFoundError
  | ForbiddenError
  | ConflictError
  | UnavailableError;

export function isDomainError(error: unknown): error is DomainError {
  return (
    error instanceof ValidationError ||
    error instanceof NotFoundError ||
    error instanceof ForbiddenError ||
    error instanceof ConflictError ||
    error instanceof UnavailableError
  );
}
