// Small helpers the API's routes share: the JSON form of rows (times as ISO strings) and the
// response descriptions of errors.
import { z } from "@hono/zod-openapi";
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

/** The errors every route may answer with. */
export const ERRORS = {
  400: error("the input does not fit: `field` names what to fix"),
  401: error("no token, or an unknown, expired or revoked one"),
  403: error("the token's rights do not allow this"),
  404: error("unknown, or not visible to the token (foreign ids answer alike)"),
  409: error("clashes with existing data, or the object is in a state that does not allow it"),
} as const;

export const Deleted = z.object({ deleted: z.literal(true) }).openapi("Deleted");
