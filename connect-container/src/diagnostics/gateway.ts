// Checks of the gateway's own state: enrollment, the control channel's authentication, OpenVPN,
// and the last error the agent met.
import { isoTime, whoMustAct } from "@meetpoint/common";
import type { PlatformContact } from "../agent/control-loops.ts";
import type { AgentStatus } from "../agent/status.ts";
import type { Enrollment } from "../state/store.ts";
import { type DiagnosticLine, line, skipped } from "./line.ts";

/** A heartbeat answer older than this is no evidence about the platform now, in milliseconds. */
export const FRESH_CONTACT_MS = 60_000;

export function enrollmentCheck(enrollment: Enrollment | null): DiagnosticLine {
  return enrollment
    ? line(
        "Enrollment",
        "ok",
        `gateway ${enrollment.body.gatewayId}, bundle version ${enrollment.version}, platform ${enrollment.body.platformUrl}`,
      )
    : line(
        "Enrollment",
        "fail",
        "no enrollment bundle imported",
        "Import the bundle from the portal (Enrollment page or import directory).",
        "the operator at the machine",
      );
}

/**
 * Whether the platform accepted the last heartbeat (the gateway's secret). Only a fresh answer
 * counts, and only while the way there works now (`reachable`): an old "OK" is never shown.
 */
export function apiAuthCheck(
  enrollment: Enrollment | null,
  contact: PlatformContact | null,
  reachable: string | null,
  now: Date,
): DiagnosticLine {
  const check = "API authentication";
  if (!enrollment) return skipped(check, "not enrolled");
  if (reachable) return skipped(check, reachable);
  if (!contact) return line(check, "warn", "no heartbeat answered yet", null, null, false);
  if (!contact.ok) {
    const who = whoMustAct(contact.error).who;
    return line(
      check,
      "fail",
      contact.error ?? "failed",
      "A refused secret needs the newest enrollment bundle (portal: Re-key).",
      who === "nobody" ? null : who,
    );
  }
  if (now.getTime() - contact.at.getTime() > FRESH_CONTACT_MS)
    return skipped(check, `no heartbeat answered since ${isoTime(contact.at)}`);
  return line(check, "ok", `last heartbeat answered at ${isoTime(contact.at)}`);
}

export function openvpnCheck(version: string | null, state: AgentStatus["state"]): DiagnosticLine {
  return version
    ? line("OpenVPN", "ok", `version ${version}, data channel ${state}`)
    : line(
        "OpenVPN",
        "fail",
        "openvpn not found",
        "Install OpenVPN 2.6 (the container image carries it).",
        "plant IT",
      );
}

/**
 * The agent's own last error: a failure while the operator's Connect stands and the data channel
 * does not come up (it blocks), a warning otherwise (history).
 */
export function lastErrorCheck(lastError: string | null, failing: boolean): DiagnosticLine | null {
  if (!lastError) return null;
  const who = whoMustAct(lastError).who;
  return failing
    ? line("Data channel", "fail", lastError, null, who === "nobody" ? null : who)
    : line("Last error", "warn", lastError, null, null, false);
}
