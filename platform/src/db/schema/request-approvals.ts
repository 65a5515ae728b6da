// One party's approval of a request (remote session): the operator at the gateway or a customer
// approver in the portal — who, where and when; under two-party consent both are recorded.
import { pgTable, text, unique, uuid } from "drizzle-orm/pg-core";
import { at, id } from "./columns.ts";
import { remoteSessions } from "./remote-sessions.ts";

/** Where an approval was given. */
export const APPROVAL_PLACES = ["gateway UI", "local API", "portal"] as const;
export type ApprovalPlace = (typeof APPROVAL_PLACES)[number];

export const requestApprovals = pgTable(
  "request_approvals",
  {
    id: id(),
    remoteSessionId: uuid("remote_session_id")
      .notNull()
      .references(() => remoteSessions.id, { onDelete: "cascade" }),
    /** "gateway" (the operator at the machine) or "portal" (a customer approver). */
    party: text("party", { enum: ["gateway", "portal"] }).notNull(),
    where: text("where", { enum: APPROVAL_PLACES }).notNull(),
    /** The approving user (portal) or gateway (gateway UI, local API). */
    actorId: uuid("actor_id"),
    /** Who approved, as shown: the approver's name, or "operator at gateway <name>". */
    actorName: text("actor_name").notNull(),
    at: at("at").notNull(),
  },
  (t) => [unique("request_approvals_session_party").on(t.remoteSessionId, t.party)],
);
