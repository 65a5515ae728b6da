// Checks of the gateway's own state: enrollment, the control channel's authentication, OpenVPN,
// and the last error the agent met.
import type { PlatformContact } from "../agent/control-loops.ts";
import type { AgentStatus } from "../agent/status.ts";
import type { Enrollment } from "../state/store.ts";
import { type DiagnosticLine, line } from "./line.ts";

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
      );
}

/** Whether the platform accepted the last heartbeat (the gateway's secret). */
export function apiAuthCheck(
  enrollment: Enrollment | null,
  contact: PlatformContact | null,
): DiagnosticLine {
  if (!enrollment) return line("API authentication", "warn", "not enrolled", null);
  if (!contact) return line("API authentication", "warn", "no heartbeat sent yet", null);
  return contact.ok
    ? line("API authentication", "ok", `last heartbeat answered at ${contact.at.toISOString()}`)
    : line(
        "API authentication",
        "fail",
        contact.error ?? "failed",
        "See the lines above; a refused secret needs the newest enrollment bundle.",
      );
}

export function openvpnCheck(version: string | null, state: AgentStatus["state"]): DiagnosticLine {
  return version
    ? line("OpenVPN", "ok", `version ${version}, data channel ${state}`)
    : line(
        "OpenVPN",
        "fail",
        "openvpn not found",
        "Install OpenVPN 2.6 (the container image carries it).",
      );
}

export function lastErrorCheck(lastError: string | null): DiagnosticLine | null {
  return lastError ? line("Last error", "warn", lastError, null) : null;
}
