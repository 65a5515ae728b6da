// Domain errors: one base type with a stable code and the HTTP status the web layer's single
// onError answers with. The message is what the user reads; the code is what programs match on.

/** Any error the platform raises on purpose, with a stable `code` and an HTTP `status`. */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  abstract readonly status: 400 | 403 | 404 | 409 | 500 | 503;
  /** The input field the error is about, when there is one. */
  readonly field: string | null = null;
}

/** One input field that does not fit, and why ("must be an IPv4 address"). */
export interface FieldProblem {
  field: string;
  reason: string;
}

/**
 * Input that does not fit: names the field so the user knows what to fix. `problems` holds every
 * field at fault (the first is `field`), so a form can mark them all at once.
 */
export class ValidationError extends DomainError {
  readonly code = "ERR_VALIDATION";
  readonly status = 400;
  override readonly field: string;
  /** Why the field does not fit, without its name. */
  readonly reason: string;
  readonly problems: FieldProblem[];
  constructor(field: string, reason: string, options?: ErrorOptions & { more?: FieldProblem[] }) {
    super(`${field}: ${reason}`, options);
    this.name = "ValidationError";
    this.field = field;
    this.reason = reason;
    this.problems = [{ field, reason }, ...(options?.more ?? [])];
  }
}

/** A request body that cannot be read as the type it claims (a broken form, JSON that is not JSON). */
export class MalformedRequestError extends DomainError {
  readonly code = "ERR_MALFORMED_REQUEST";
  readonly status = 400;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MalformedRequestError";
  }
}

/** Unknown, or not visible to the caller: both answer alike, so ids of others leak nothing. */
export class NotFoundError extends DomainError {
  readonly code = "ERR_NOT_FOUND";
  readonly status = 404;
  constructor(what: string) {
    super(`${what} not found`);
    this.name = "NotFoundError";
  }
}

export class ForbiddenError extends DomainError {
  readonly code = "ERR_FORBIDDEN";
  readonly status = 403;
  constructor(message = "You are not allowed to do this.") {
    super(message);
    this.name = "ForbiddenError";
  }
}

/** The request clashes with existing data (duplicate name, address in use, pool exhausted). */
export class ConflictError extends DomainError {
  readonly code: string = "ERR_CONFLICT";
  readonly status = 409;
  override readonly field: string | null;
  constructor(message: string, field: string | null = null, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConflictError";
    this.field = field;
  }
}

/** Something that a delete would orphan, named so the page can link to it. */
export interface Dependent {
  type: "customer" | "site" | "gateway" | "machine" | "user";
  id: string;
  name: string;
}

/** A delete refused because other things still belong to it; `dependents` lists them. */
export class InUseError extends ConflictError {
  override readonly code = "ERR_IN_USE";
  constructor(
    what: string,
    readonly dependents: Dependent[],
  ) {
    super(
      `${what} is still in use: first remove or move what belongs to it (${dependents
        .slice(0, 5)
        .map((d) => `${d.type} ${d.name}`)
        .join(", ")}${dependents.length > 5 ? `, and ${dependents.length - 5} more` : ""}).`,
    );
    this.name = "InUseError";
  }
}

/**
 * A save from a form that was opened before someone else changed the same thing: refused, so the
 * other change is not silently reverted (a lost update). Says who changed it and when, if known.
 */
export class StaleFormError extends ConflictError {
  override readonly code = "ERR_STALE_FORM";
  constructor(
    readonly changedBy: string | null,
    readonly changedAt: Date | null,
  ) {
    super(
      `Changed by ${changedBy ?? "someone else"}${changedAt ? ` at ${changedAt.toISOString().slice(0, 19)}Z` : ""} since you opened this page: nothing was saved. Reload the page to see the change, then make yours again.`,
    );
    this.name = "StaleFormError";
  }
}

/** The object is in a state that does not allow this now (a gateway offline, nothing to connect to). */
export class StateError extends ConflictError {
  override readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "StateError";
    this.code = code;
  }
}

/** Remote access cannot be granted: the platform's data plane (OpenVPN, nftables) is not running. */
export class DataPlaneOffError extends ConflictError {
  override readonly code = "ERR_DATA_PLANE_OFF";
  constructor(reason: string) {
    super(`The platform's data plane is off: ${reason}`);
    this.name = "DataPlaneOffError";
  }
}

/** Nothing can be decided right now (the platform is recovering); try again in a moment. */
export class UnavailableError extends DomainError {
  readonly code = "ERR_UNAVAILABLE";
  readonly status = 503;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnavailableError";
  }
}

/**
 * A change was recorded but a step that cuts access afterwards (firewall, conntrack, OpenVPN)
 * failed even when retried: logged, and surfaced to whoever asked.
 */
export class CutIncompleteError extends DomainError {
  readonly code = "ERR_CUT_INCOMPLETE";
  readonly status = 500;
  constructor(
    readonly failures: { step: string; error: unknown }[],
    message = `Recorded, but cutting access did not complete: ${failures.map((f) => `${f.step} (${f.error instanceof Error ? f.error.message : String(f.error)})`).join("; ")}. The platform keeps the rest closed; an administrator must check the data plane.`,
  ) {
    super(message, { cause: failures[0]?.error });
    this.name = "CutIncompleteError";
  }
}

export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}
