// The gateway's side of consent: the pending requests its operator decides (consent policies
// operator_approval and two_party), listed in the heartbeat answer, and the operator's Allow / Deny
// from the gateway UI or its local API, reported through the gateway API. The audited actor is the
// gateway, with where the operator decided.
import type { PendingRequest } from "@meetpoint/common";
import { and, asc, eq, getTableColumns, inArray, sql } from "drizzle-orm";
import { type Actor, SYSTEM_ACTOR } from "../audit/index.ts";
import {
  type ApprovalPlace,
  type Db,
  gatewaySessions,
  gateways,
  machines,
  remoteSessions,
  requestApprovals,
  users,
} from "../db/index.ts";
import { isUuid, NotFoundError, StateError } from "../shared/index.ts";
import { type ApprovalDeps, approveRequest, refuseEnded } from "./approvals.ts";
import type { SessionView } from "./model.ts";
import { remoteSessionById } from "./queries.ts";

/** The consent policies under which the operator at the gateway approves. */
const GATEWAY_POLICIES = ["operator_approval", "two_party"] as const;

/** What the operator's decision did, as the gateway API answers it. */
export interface GatewayDecision {
  /** granted: the technician may connect; approved_partly: waits for a customer approver. */
  outcome: "granted" | "approved_partly" | "already_approved" | "denied" | "already_denied";
  message: string;
}

/** The gateway's requests (with names), by id or all pending ones, oldest first. */
async function requestsOf(
  db: Db,
  gatewayId: string,
  filter: { id?: string; pending?: boolean },
): Promise<SessionView[]> {
  return db
    .select({
      ...getTableColumns(remoteSessions),
      machineName: sql<string>`coalesce(${machines.name}, ${gateways.name})`,
      technicianName: users.displayName,
      siteId: gateways.siteId,
      gatewayId: gateways.id,
      endedByName: sql<
        string | null
      >`(select ender.display_name from users ender where ender.id = ${remoteSessions.endedBy})`,
    })
    .from(remoteSessions)
    .innerJoin(gatewaySessions, eq(gatewaySessions.id, remoteSessions.gatewaySessionId))
    .innerJoin(gateways, eq(gateways.id, gatewaySessions.gatewayId))
    .leftJoin(machines, eq(machines.id, remoteSessions.machineId))
    .innerJoin(users, eq(users.id, remoteSessions.technicianId))
    .where(
      and(
        eq(gateways.id, gatewayId),
        filter.id ? eq(remoteSessions.id, filter.id) : undefined,
        filter.pending
          ? and(
              eq(remoteSessions.state, "pending"),
              inArray(remoteSessions.consentPolicy, [...GATEWAY_POLICIES]),
            )
          : undefined,
      ),
    )
    .orderBy(asc(remoteSessions.requestedAt))
    .limit(100);
}

/**
 * The requests waiting for this gateway's operator (oldest first), as the heartbeat answer lists
 * them: who, why, which services, how long (seconds), mode, until when it may be decided, and
 * whether the operator approved already (two-party: then it waits for the portal).
 */
export async function pendingRequestsFor(
  deps: { db: Db; clock: { now(): Date } },
  gatewayId: string,
): Promise<PendingRequest[]> {
  const pending = await requestsOf(deps.db, gatewayId, { pending: true });
  const now = deps.clock.now().getTime();
  const live = pending.filter((s) => !s.decideBy || s.decideBy.getTime() > now);
  const approved =
    live.length === 0
      ? []
      : await deps.db
          .select({ id: requestApprovals.remoteSessionId, party: requestApprovals.party })
          .from(requestApprovals)
          .where(
            inArray(
              requestApprovals.remoteSessionId,
              live.map((s) => s.id),
            ),
          );
  return live.map((s) => {
    const parties = approved.filter((a) => a.id === s.id).map((a) => a.party);
    return {
      id: s.id,
      technician: s.technicianName,
      // Meetpoint keeps no company for a person (see the transparency report's note).
      company: null,
      reason: s.reason,
      ticket: s.ticket,
      machine: s.machineName,
      services: s.services.map((x) => ({
        name: x.name,
        protocol: x.protocol,
        port: x.port,
        mode: x.mode ?? "full",
      })),
      durationSeconds: s.durationSeconds ?? 0,
      requestedAt: s.requestedAt.toISOString(),
      decideBy: (s.decideBy ?? s.endsAt).toISOString(),
      policy: s.consentPolicy === "two_party" ? "two_party" : "operator_approval",
      operatorApproved: parties.includes("gateway"),
      customerApproved: parties.includes("portal"),
    };
  });
}

/**
 * The operator's Allow or Deny of a request to `gateway`, made on its UI or local API. Idempotent
 * (a repeat answers already_…). 404 for a request not through this gateway; 409 for a request no
 * longer pending (denied, expired, ended) and where the site's policy has the operator not approve.
 */
export async function decideAtGateway(
  deps: ApprovalDeps,
  gateway: { id: string; name: string },
  id: string,
  decision: "allow" | "deny",
  where: Exclude<ApprovalPlace, "portal">,
  ip: string | null,
): Promise<GatewayDecision> {
  if (!isUuid(id)) throw new NotFoundError("Request");
  const [session] = await requestsOf(deps.db, gateway.id, { id: id.toLowerCase() });
  if (!session) throw new NotFoundError("Request");
  const actor: Actor = { id: null, name: `operator at gateway ${gateway.name} (${where})`, ip };
  const nameOf = async (userId: string | null) =>
    userId ? ((await nameOfUser(deps.db, userId)) ?? "someone") : "the operator or the system";
  if (!(GATEWAY_POLICIES as readonly string[]).includes(session.consentPolicy))
    throw new StateError(
      "ERR_NOT_YOUR_APPROVAL",
      session.consentPolicy === "operator_connect"
        ? "This session needed no approval: the site's consent policy is operator Connect."
        : "Under this site's consent policy a customer approver decides requests in the portal, not the gateway.",
    );
  if (decision === "allow") {
    const approval = await approveRequest(
      deps,
      session,
      {
        party: "gateway",
        where,
        actor,
        userId: null,
        gatewayId: gateway.id,
        shownAs: `operator at gateway ${gateway.name}`,
      },
      nameOf,
    );
    switch (approval.outcome) {
      case "already":
        return {
          outcome: "already_approved",
          message: approval.granted
            ? "Approved already: nothing changed."
            : "Approved already here: the request waits for a customer approver in the portal.",
        };
      case "recorded":
        return {
          outcome: "approved_partly",
          message: `Approved here: ${session.technicianName} gets access once a customer approver allows it in the portal too.`,
        };
      case "granted":
        return {
          outcome: "granted",
          message: `Allowed: ${session.technicianName} may connect until ${approval.endsAt.toISOString()}.`,
        };
    }
  }
  return denyAtGateway(deps, session, actor, where, nameOf);
}

async function denyAtGateway(
  deps: ApprovalDeps,
  session: SessionView,
  actor: Actor,
  where: string,
  nameOf: (userId: string | null) => Promise<string>,
): Promise<GatewayDecision> {
  if (session.state === "ended" && session.endReason === "denied")
    return { outcome: "already_denied", message: "Denied already: nothing changed." };
  if (session.state !== "pending" && session.approvedAt)
    throw new StateError(
      "ERR_REQUEST_APPROVED",
      "This request was approved already: end its session with Disconnect instead.",
    );
  await refuseEnded(session, nameOf);
  // Past its deadline it expired, whoever comes now: recorded as the system's, then refused.
  if (session.decideBy && session.decideBy.getTime() <= deps.clock.now().getTime())
    await deps.ends.endRemoteSession(
      session.id,
      "request_expired",
      SYSTEM_ACTOR,
      {},
      {
        onlyIfPending: true,
      },
    );
  else
    await deps.ends.endRemoteSession(
      session.id,
      "denied",
      actor,
      { where },
      { onlyIfPending: true },
    );
  const after = await remoteSessionById(deps.db, session.id);
  if (after?.endReason === "denied" && after.endedBy === null && session.state === "pending")
    return { outcome: "denied", message: `Denied: ${session.technicianName} gets no access.` };
  return denyAtGateway(deps, { ...session, ...after }, actor, where, nameOf);
}

async function nameOfUser(db: Db, userId: string): Promise<string | null> {
  const [row] = await db
    .select({ name: users.displayName })
    .from(users)
    .where(eq(users.id, userId));
  return row?.name ?? null;
}
