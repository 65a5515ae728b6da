// One line of the diagnostics report: a check, its verdict, what was found and what to do about it.

export type Verdict = "ok" | "warn" | "fail";

export interface DiagnosticLine {
  check: string;
  verdict: Verdict;
  detail: string;
  hint: string | null;
}

export const line = (
  check: string,
  verdict: Verdict,
  detail: string,
  hint: string | null = null,
): DiagnosticLine => ({ check, verdict, detail, hint });
