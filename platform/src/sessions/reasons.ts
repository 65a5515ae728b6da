// Why a gateway's data channel closed, as a closed set of values, and the rules that follow from
// it: who may bring the channel back, and how its remote sessions end. Pure.
import {
  CLOSE_REASONS,
  type CloseReason,
  type ConsentPolicy,
  type EndReason,
} from "../db/index.ts";

export { CLOSE_REASONS, type CloseReason } from "../db/index.ts";

export function isCloseReason(value: unknown): value is CloseReason {
  return (CLOSE_REASONS as readonly unknown[]).includes(value);
}

/**
 * Whether only the operator at the gateway may connect its data channel again: after a technician
 * or an admin ended remote access (the reference design's rule), never after a fault.
 */
export function operatorMustReconnect(reason: CloseReason | null): boolean {
  return reason === "technician" || reason === "admin";
}

/**
 * The close reason of a data channel whose remote session ended for `reason`, when it closes too:
 * under the consent policy operator_connect a technician's or admin's end closes it (the reference
 * design's rule: only the operator re-arms); under the approval policies each request was approved on
 * its own, so one session's end leaves the channel — and the other technicians' sessions — open,
 * and the rule applies when the channel's last session (or request) ends (`othersOpen` false).
 */
export function closeAfterEnd(
  reason: EndReason,
  policy: ConsentPolicy = "operator_connect",
  othersOpen = false,
): CloseReason | null {
  if (reason !== "technician" && reason !== "admin") return null;
  if (policy !== "operator_connect" && othersOpen) return null;
  return reason;
}

/** How the remote sessions of a data channel that closed for `reason` end. */
export function endReasonOf(reason: CloseReason): EndReason {
  switch (reason) {
    case "operator":
    case "platform_shutdown":
    case "vpn_failure":
    case "database_lost":
    case "instance_lost":
      return reason;
    case "technician":
    case "admin":
      // Another session's end closed the channel (operator_connect): said as such, not as a fault.
      return "channel_closed";
    case "replaced":
    case "gateway_lost":
    case "renewal":
      return "gateway_lost";
  }
}

// What gateways have always been told (their event logs and operators read these).
const CLOSE_TEXTS: Record<CloseReason, string> = {
  operator: "operator",
  replaced: "replaced",
  technician: "remote session ended by technician",
  admin: "remote session ended by admin",
  gateway_lost: "gateway_lost",
  platform_shutdown: "platform_shutdown",
  vpn_failure: "vpn_failure",
  database_lost: "database_lost",
  renewal: "renewal: the data channel reached its maximum lifetime",
  instance_lost: "instance_lost: the platform instance holding the data channel stopped answering",
};

/** The reason as the gateway's operator reads it. */
export function closeReasonText(reason: CloseReason): string {
  return CLOSE_TEXTS[reason];
}

/**
 * Why a remote session ended, as its technician reads it in the portal: `endReason` in words; for
 * `channel_closed` who closed the channel (`endedByName`, the user whose end closed it) and that
 * only the operator brings it back. "" while the session has not ended.
 */
export function endText(s: { endReason: string | null; endedByName?: string | null }): string {
  switch (s.endReason) {
    case null:
      return "";
    case "channel_closed":
      return `ended because ${s.endedByName ?? "another technician"} disconnected and the gateway's data channel closed; the operator at the machine must connect again`;
    case "gateway_lost":
      return "ended because the gateway's data channel went away";
    case "window_ended":
      return "ended with the maintenance window that approved it";
    case "instance_lost":
      return "ended because the platform instance holding its tunnel stopped answering; connect again";
    default:
      return `ended by ${s.endReason.replaceAll("_", " ")}`;
  }
}
