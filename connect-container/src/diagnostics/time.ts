// Checks of the local clock: against the configured SNTP servers, and against the platform's clock
// as the last heartbeat answer showed it. Certificates are valid for minutes only.
import { isoTime } from "@meetpoint/common";
import type { PlatformContact } from "../agent/control-loops.ts";
import { FRESH_CONTACT_MS } from "./gateway.ts";
import { type DiagnosticLine, line, skipped } from "./line.ts";
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
          off < 1000 ? null : "plant IT",
          off >= SKEW_ALLOWANCE_MS,
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
          "plant IT",
          false,
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
        "plant IT",
        false,
      ),
    );
  return lines;
}

/**
 * The platform's clock against ours, from the last heartbeat answer — only a fresh one, and only
 * while the way to the platform works now (`reachable` null): never an old "OK" while it is down.
 */
export function clockCheck(
  contact: PlatformContact | null,
  reachable: string | null,
  now: Date,
): DiagnosticLine {
  const check = "Clock against the platform";
  if (reachable) return skipped(check, reachable);
  if (contact?.clockOffsetMs === null || contact?.clockOffsetMs === undefined)
    return skipped(check, "no heartbeat answered yet");
  if (!contact.ok || now.getTime() - contact.at.getTime() > FRESH_CONTACT_MS)
    return skipped(check, `no fresh answer from the platform (last at ${isoTime(contact.at)})`);
  const off = Math.abs(contact.clockOffsetMs);
  return line(
    check,
    off < 5000 ? "ok" : off < SKEW_ALLOWANCE_MS ? "warn" : "fail",
    `platform minus local ${seconds(contact.clockOffsetMs)} (allowance ±${SKEW_ALLOWANCE_MS / 1000} s)`,
    off < 5000
      ? null
      : "Certificates will be refused beyond the allowance: fix the local clock (NTP).",
    off < 5000 ? null : "plant IT",
  );
}
