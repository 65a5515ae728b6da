// Checks of the local clock: against the configured SNTP servers, and against the platform's clock
// as the last heartbeat answer showed it. Certificates are valid for minutes only.
import type { PlatformContact } from "../agent/control-loops.ts";
import { type DiagnosticLine, line } from "./line.ts";
import { sntpQuery } from "./sntp.ts";

/** The certificate allowance the platform grants clocks (MEETPOINT_CLOCK_SKEW_SECONDS default). */
const SKEW_ALLOWANCE_MS = 120_000;

const seconds = (ms: number) => `${ms >= 0 ? "+" : ""}${(ms / 1000).toFixed(2)} s`;

/** Asks the servers in turn (2 s each): the first that answers decides, the others are fallbacks. */
export async function ntpChecks(servers: string[]): Promise<DiagnosticLine[]> {
  const lines: DiagnosticLine[] = [];
  for (const server of servers) {
    try {
      const result = await sntpQuery(server, 2000);
      const off = Math.abs(result.offsetMs);
      lines.push(
        line(
          `NTP ${server}`,
          off < 1000 ? "ok" : off < SKEW_ALLOWANCE_MS ? "warn" : "fail",
          `offset ${seconds(result.offsetMs)}, stratum ${result.stratum}, round trip ${result.roundTripMs.toFixed(1)} ms`,
          off < 1000 ? null : "The local clock is off: enable time synchronisation on the host.",
        ),
      );
      return lines;
    } catch (error) {
      lines.push(
        line(
          `NTP ${server}`,
          "warn",
          (error as Error).message,
          "Allow UDP 123 outwards, or configure reachable MEETPOINT_NTP_SERVERS.",
        ),
      );
    }
  }
  if (servers.length > 0)
    lines.push(
      line(
        "NTP",
        "fail",
        "no configured server answered",
        "Certificates are valid for minutes: without a correct clock connections fail.",
      ),
    );
  return lines;
}

/** The platform's clock against ours, from the last heartbeat; null before one was answered. */
export function clockCheck(contact: PlatformContact | null): DiagnosticLine | null {
  if (contact?.clockOffsetMs === null || contact?.clockOffsetMs === undefined) return null;
  const off = Math.abs(contact.clockOffsetMs);
  return line(
    "Clock against the platform",
    off < 5000 ? "ok" : off < SKEW_ALLOWANCE_MS ? "warn" : "fail",
    `platform minus local ${seconds(contact.clockOffsetMs)} (allowance ±${SKEW_ALLOWANCE_MS / 1000} s)`,
    off < 5000
      ? null
      : "Certificates will be refused beyond the allowance: fix the local clock (NTP).",
  );
}
