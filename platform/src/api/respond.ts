// Small helpers the API's routes share: the JSON form of rows (times as ISO strings), the
// response descriptions of errors each operation can answer with, and the permission an
// operation needs at all (checked before its input).
import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { hasPermission, type Permission } from "../access/index.ts";
import { ForbiddenError } from "../shared/index.ts";
import type { ApiEnv } from "./app.ts";
import { ErrorSchema } from "./schemas.ts";

/** A value as it goes over the wire: Dates become ISO strings, as JSON.stringify makes them. */
export function wire<T>(value: T): never {
  return JSON.parse(JSON.stringify(value)) as never;
}

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

const error = (description: string) => json(ErrorSchema, description);

/** The errors routes may answer with. */
export const ERRORS = {
  400: error("the input does not fit: the error's field names what to fix"),
  401: error("no token, or an unknown, expired or revoked one"),
  403: error("the token's rights do not allow this"),
  404: error("unknown, or not visible to the token (foreign ids answer alike)"),
  409: error("clashes with existing data, or the object is in a state that does not allow it"),
} as const;

/** The error answers of one operation: 401 always, and those named. */
export function errors<K extends 400 | 403 | 404 | 409>(...codes: K[]) {
  const picked = { 401: ERRORS[401] } as Pick<typeof ERRORS, 401 | K>;
  for (const code of codes) (picked as Record<number, unknown>)[code] = ERRORS[code];
  return picked;
}

/**
 * Route middleware: 403 unless the token holds `permission` for at least one customer. Runs
 * before the input is validated, so a caller who may not do this at all learns that first, not
 * what a valid body would look like.
 */
export function needs(permission: Permission): { middleware: MiddlewareHandler<ApiEnv> } {
  return {
    middleware: async (c, next) => {
      if (!hasPermission(c.get("ctx").caller.principal, permission)) throw new ForbiddenError();
      await next();
    },
  };
}

export const Deleted = z.object({ deleted: z.literal(true) }).openapi("Deleted");
