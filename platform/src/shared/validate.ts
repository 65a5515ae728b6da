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

/** Control characters and line/paragraph separators: none belongs in a one-line name. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
export const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Control characters (Unicode category Cc: C0, DEL, C1) in text that is one line: a query, a
 * path, a name. PostgreSQL refuses NUL in text, and none of them belongs in such input.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
export const LINE_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** The same, where text may span lines (form fields, JSON strings): tab, LF and CR are allowed. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
export const TEXT_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/**
 * Unicode format characters (general category Cf): bidi overrides and isolates (U+202A–202E,
 * U+2066–2069), zero-width spaces and joiners (U+200B–200D), the BOM, soft hyphens. Invisible:
 * in a name they make two names look alike, or reorder the text shown around them.
 */
export const FORMAT_CHARACTER = /\p{Cf}/u;

export const FORMAT_MESSAGE =
  "must not contain invisible formatting characters (Unicode Cf: bidi controls, zero-width characters)";

export { escapeFormatCharacters } from "@meetpoint/common";

/**
 * A display name: trimmed, 1–100 characters, no control or format characters. Rendered as text
 * only.
 */
export const nameSchema = z
  .string({ error: "is required" })
  // Before trim(), which would silently drop a leading or trailing U+FEFF.
  .refine((v) => !FORMAT_CHARACTER.test(v), FORMAT_MESSAGE)
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
