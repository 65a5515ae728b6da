// Input validation with zod: the problems become a ValidationError naming each field at fault.
import { z } from "zod";
import { type FieldProblem, ValidationError } from "./errors.ts";

/** The most characters a display name (customer, site, gateway, machine, service…) may have. */
export const NAME_MAX = 100;

export function parseInput<T extends z.ZodType>(schema: T, data: unknown): z.infer<T> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  // One problem per field (the first zod reports for it), in the order of the issues.
  const problems: FieldProblem[] = [];
  for (const issue of result.error.issues) {
    const field = issue.path.length ? issue.path.join(".") : "input";
    if (!problems.some((p) => p.field === field)) problems.push({ field, reason: issue.message });
  }
  const [first = { field: "input", reason: "invalid" }, ...more] = problems;
  throw new ValidationError(first.field, first.reason, { more });
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Control characters (Unicode category Cc: C0, DEL, C1) in text that is one line: a query, a
 * path, a name. PostgreSQL refuses NUL in text, and none of them belongs in such input.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
export const LINE_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** The same, where text may span lines (form fields, JSON strings): tab, LF and CR are allowed. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
export const TEXT_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** A display name: trimmed, 1–100 characters, no control characters. Rendered as text only. */
export const nameSchema = z
  .string({ error: "is required" })
  .trim()
  .min(1, "is required")
  .max(NAME_MAX, `must have at most ${NAME_MAX} characters`)
  .refine((v) => !CONTROL.test(v), "must not contain control characters");

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** Escapes LIKE wildcards so a search for "50%" finds "50%", not everything. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
