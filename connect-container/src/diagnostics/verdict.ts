// The one verdict a diagnostics report opens with: the blocking cause (the first failure on the
// way out that keeps remote access from working), and who must act on it.
import type { DiagnosticLine } from "./line.ts";

export interface DiagnosticsVerdict {
  ok: boolean;
  /** One sentence: "Blocked: TCP platform:443 — connection refused" or "No problem found". */
  headline: string;
  /** Who must act and what they do; null when nothing blocks. */
  act: string | null;
  /** The line the verdict is about. */
  cause: DiagnosticLine | null;
}

const capital = (text: string) => `${text[0]?.toUpperCase() ?? ""}${text.slice(1)}`;

/** The verdict of `lines` (in the order they ran, from the gateway outwards). */
export function verdictOf(lines: DiagnosticLine[]): DiagnosticsVerdict {
  const cause = lines.find((l) => l.verdict === "fail" && l.blocks) ?? null;
  if (cause) {
    const who = cause.who ? `${capital(cause.who)} must act` : "Whoever runs the gateway must act";
    return {
      ok: false,
      headline: `Blocked: ${cause.check} — ${cause.detail}`,
      act: `${who}${cause.hint ? `: ${cause.hint}` : "."}`,
      cause,
    };
  }
  const warning = lines.find((l) => l.verdict === "fail" || l.verdict === "warn") ?? null;
  return {
    ok: true,
    headline: warning
      ? `Nothing blocks remote access; one thing to look at: ${warning.check} — ${warning.detail}`
      : "No problem found: the gateway can reach the platform.",
    act: warning?.hint ?? null,
    cause: warning,
  };
}
