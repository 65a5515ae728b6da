// Versions of what a form edits: a short digest of the values the page showed. A save that carries
// a version other than the current one comes from a page opened before someone else's change.
import { createHash } from "node:crypto";

/** The version of `values` (the fields a form edits), as 16 hex digits. */
export function versionOf(values: Record<string, unknown>): string {
  const canonical = JSON.stringify(Object.entries(values).sort(([a], [b]) => a.localeCompare(b)));
  return createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}

/**
 * The version a submitted form carries, or null when it carries none (a program using the API, an
 * older page): only forms that say what they saw can be checked.
 */
export function submittedVersion(input: unknown): string | null {
  if (typeof input !== "object" || input === null) return null;
  const version = (input as Record<string, unknown>).version;
  return typeof version === "string" && version !== "" ? version : null;
}
