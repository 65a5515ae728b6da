// The life of a remote session, as a pure function of its state and an event.
//
//   pending ──approved──▶ requested ──connected──▶ active ──end / end time──▶ ended
//      │                      └──────────── end / config unused ───────────────▲
//      └──────────────── denied / not decided in time / end ───────────────────┘
//
// A request under the consent policy customer_approval starts "pending": no config, no grant. Its
// approval starts its clock: the config's window and the session's end count from that moment.
// A session starts "requested" when a technician presses Connect and gets a one-time config. It
// becomes "active" when that config's connection is authorised, and "ended" — for good — when
// anyone ends it, its end time passes (OpenVPN would keep the tunnel past certificate expiry), or
// the config expires unused.

export type SessionState = "pending" | "requested" | "active" | "ended";

import type { EndReason } from "../db/index.ts";

export { END_REASONS, type EndReason } from "../db/index.ts";

export interface SessionTimes {
  state: SessionState;
  requestedAt: Date;
  /** Until when the one-time config can be used to connect. */
  configExpiresAt: Date;
  /** When an active session is cut, whatever happens. */
  endsAt: Date;
  activatedAt: Date | null;
  /** Until when a pending request may be decided (null: no approval needed). */
  decideBy?: Date | null;
  /** How long the session lasts from its approval, in seconds. */
  durationSeconds?: number | null;
  approvedAt?: Date | null;
  endedAt: Date | null;
  endReason: EndReason | null;
}

export type SessionEvent =
  | { type: "connected"; at: Date }
  /** An approver allowed the request; the config may be used for `configSeconds` from now. */
  | { type: "approve"; at: Date; configSeconds: number }
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
  if (session.state === "pending") return nextPending(session, event);
  if (event.type === "approve") return { changed: false, session, refused: "already approved" };
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

function nextPending(session: SessionTimes, event: SessionEvent): Transition {
  if (session.decideBy && event.at >= session.decideBy)
    return end(session, "request_expired", session.decideBy);
  switch (event.type) {
    case "approve": {
      const seconds = session.durationSeconds ?? 0;
      return {
        changed: true,
        session: {
          ...session,
          state: "requested",
          approvedAt: event.at,
          configExpiresAt: new Date(event.at.getTime() + event.configSeconds * 1000),
          endsAt: new Date(event.at.getTime() + seconds * 1000),
        },
      };
    }
    case "connected":
      return { changed: false, session, refused: "the request is waiting for its approval" };
    case "end":
      return end(session, event.reason, event.at);
    case "tick":
      return { changed: false, session };
  }
}

/** When the next tick can change this session (null: nothing will without an event). */
export function nextDeadline(session: SessionTimes): Date | null {
  if (session.state === "ended") return null;
  if (session.state === "pending") return session.decideBy ?? null;
  if (session.state === "requested" && session.configExpiresAt < session.endsAt)
    return session.configExpiresAt;
  return session.endsAt;
}
