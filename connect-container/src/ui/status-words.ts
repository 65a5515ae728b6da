// What the operator reads on the big panel, as a pure function of the agent's status: what is
// true now ("Cannot connect since 09:50 — retrying; reason: …"), since when, and who must act
// (plant IT, the platform's operator, the operator, or nobody: wait). The portal says the same
// from the gateway's heartbeat (common's whoMustAct).
import { isoTime, whoMustAct, whoMustActText } from "@meetpoint/common";
import type { AgentStatus } from "../agent/status.ts";

export type OperatorPhase = "not-enrolled" | "off" | "connecting" | "online" | "failing" | "active";

export interface StatusWords {
  phase: OperatorPhase;
  /** The big line. */
  headline: string;
  /** Since when it holds (shown as an ISO time beside the headline). */
  since: Date | null;
  /** What it means, one or two sentences. */
  detail: string;
  /** Who must act and how; null when nobody needs to. */
  act: string | null;
}

/** The panel's words for `status`; `enrolled` false before a bundle was imported. */
export function statusWords(status: AgentStatus, enrolled: boolean): StatusWords {
  const active = status.remoteSessions.filter((s) => s.state === "active");
  if (!enrolled)
    return {
      phase: "not-enrolled",
      headline: "Not enrolled",
      since: null,
      detail: "This gateway does not know its platform yet: nobody can reach the machines.",
      act: "Import the enrollment bundle from the portal (Enrollment page, or the import folder).",
    };
  if (active.length)
    return {
      phase: "active",
      headline: "REMOTE SESSION ACTIVE",
      since: status.since,
      detail: `${active.map((s) => s.technician).join(", ")} can reach the services below. Disconnect ends it at once.`,
      act: null,
    };
  if (status.state === "online")
    return {
      phase: "online",
      headline: "Online — remote access allowed",
      since: status.since,
      detail: `Allowed via ${status.armedBy ?? "the operator"}. Technicians of the customer can connect now; Disconnect ends it at once.`,
      act: null,
    };
  if (status.state !== "idle" && status.failingSince && status.lastError) {
    const retry = status.retryAt ? ` Next attempt at ${isoTime(status.retryAt)}.` : "";
    return {
      phase: "failing",
      headline: "Cannot connect — retrying",
      since: status.failingSince,
      detail: `Reason: ${status.lastError}.${retry}`,
      act: whoMustActText(status.lastError),
    };
  }
  if (status.state !== "idle")
    return {
      phase: "connecting",
      headline: "Connecting…",
      since: status.since,
      detail: `Allowed via ${status.armedBy ?? "the operator"}; the data channel to the platform is coming up.`,
      act: "Nobody needs to act: wait a few seconds.",
    };
  const ended =
    status.lastError && whoMustAct(status.lastError).who === "the operator at the machine";
  return {
    phase: "off",
    headline: "Remote access off",
    since: status.since,
    detail: ended
      ? `Ended: ${status.lastError}. Nobody can reach the machines from outside.`
      : "Nobody can reach the machines from outside.",
    act: "Press Connect to allow remote access.",
  };
}
