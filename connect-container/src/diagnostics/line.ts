// One line of the diagnostics report: a check, its verdict, what was found, what to do about it,
// and who must act when it failed. A check that depends on one that failed is skipped, not run:
// its result would only repeat the cause (a TLS error because TCP never connected).
import type { Actor } from "@meetpoint/common";

export type Verdict = "ok" | "warn" | "fail" | "skip";

export interface DiagnosticLine {
  check: string;
  verdict: Verdict;
  detail: string;
  hint: string | null;
  /** Who must act when this failed; null when it did not, or when nobody can tell. */
  who: Actor | null;
  /** Whether a failure here keeps remote access from working (a missing NTP answer does not). */
  blocks: boolean;
}

export const line = (
  check: string,
  verdict: Verdict,
  detail: string,
  hint: string | null = null,
  who: Actor | null = null,
  blocks = true,
): DiagnosticLine => ({ check, verdict, detail, hint, who, blocks });

/** A check not run because `cause` (an earlier check) failed or cannot tell. */
export const skipped = (check: string, cause: string): DiagnosticLine =>
  line(check, "skip", `skipped: ${cause}`);
