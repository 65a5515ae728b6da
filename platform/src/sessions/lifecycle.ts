// The life of a remote session, as a pure function of its state and an event.
//
//   requested ──connected──▶ active ──end / end time──▶ ended
//       └──────────── end / config unused ───────────────▲
//
// A session starts "requested" when a technician presses Connect and gets a one-time config. It
// becomes "active" when that config's connection is authorised, and "ended" — for good — when
// anyone ends it, its end time passes (OpenVPN would keep the tunnel past certificate expiry), or
// the config expires unused.

export type SessionState = "requested" | "active" | "ended";

export const END_REASONS = [
  "technician", // the technician disconnected in the portal or closed the client
  "admin", // an admin terminated it
  "operator", // the operator pressed Disconnect on the gateway
  "expiry", // its end time passed
  "config_unused", // the one-time config expired before it was used
  "gateway_lost", // the gateway's data channel went away
  "platform_shutdown", // the platform stopped or restarted
  "vpn_failure", // the OpenVPN server carrying it crashed
  "database_lost", // the platform lost its database and cut all access (fail closed)
] as const;

export type EndReason = (typeof END_REASONS)[number];

export interface SessionTimes {
  state: SessionState;
  requestedAt: Date;
  /** Until when the one-time config can be used to connect. */
  configExpiresAt: Date;
  /** When an active session is cut, whatever happens. */
  endsAt: Date;
  activatedAt: Date | null;
  endedAt: Date | null;
  endReason: EndReason | null;
}

export type SessionEvent =
  | { type: "connected"; at: Date }
  | { type: "end"; reason: EndReason; at: Date }
  | { type: "tick"; at: Date };

export type Transition =
  | { changed: true; session: SessionTimes }
  | { changed: false; session: SessionTimes; refused?: string };

function end(session: SessionTimes, reason: EndReason, at: Date): Transition {
  return { changed: true, session: { ...session, state: "ended", endedAt: at, endReason: reason } };
}

/**
 * The state after `event`. A deadline that passed before the event ends the session first, at the
 * deadline (an event that arrives late does not rewrite what happened). Ended is final.
 */
export function nextState(session: SessionTimes, event: SessionEvent): Transition {
  if (session.state === "ended") {
    return {
      changed: false,
      session,
      refused: event.type === "connected" ? "the session has ended" : undefined,
    };
  }
  if (session.state === "requested" && event.at >= session.configExpiresAt) {
    return end(session, "config_unused", session.configExpiresAt);
  }
  if (event.at >= session.endsAt) return end(session, "expiry", session.endsAt);
  switch (event.type) {
    case "connected":
      if (session.state === "active")
        return { changed: false, session, refused: "the session is already connected" };
      return { changed: true, session: { ...session, state: "active", activatedAt: event.at } };
    case "end":
      return end(session, event.reason, event.at);
    case "tick":
      return { changed: false, session };
  }
}

/** When the next tick can change this session (null: nothing will without an event). */
export function nextDeadline(session: SessionTimes): Date | null {
  if (session.state === "ended") return null;
  if (session.state === "requested" && session.configExpiresAt < session.endsAt)
    return session.configExpiresAt;
  return session.endsAt;
}
