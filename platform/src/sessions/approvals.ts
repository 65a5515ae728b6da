// One party's approval of a pending request, under the consent policies that ask for approvals
// (operator_approval: the gateway; customer_approval: the portal; two_party: both). Each approval
// is recorded (who, where, when) and audited; the request is granted — state requested, its clock
// started — only when the last party the policy asks for approves, and never by one party alone.
import { and, asc, eq } from "drizzle-orm";
import { type Actor, recordAudit, SYSTEM_ACTOR } from "../audit/index.ts";
import {
  type ApprovalParty,
  type ApprovalPlace,
  approvalParties,
  type Db,
  gateways,
  inTransaction,
  remoteSessions,
  requestApprovals,
  services,
  sites,
} from "../db/index.ts";
import { type Clock, NotFoundError, StateError } from "../shared/index.ts";
import type { SessionEnds } from "./ends.ts";
import type { AccessGate } from "./gate.ts";
import { nextState } from "./lifecycle.ts";
import { type RemoteSession, type SessionView, timesOf } from "./model.ts";
import { gatewaySessionById, remoteSessionById } from "./queries.ts";
import { type ClampedGrant, clampAtApproval } from "./request-rules.ts";

export interface ApprovalDeps {
  db: Db;
  clock: Clock;
  pki: { policy: { technicianSeconds: number } };
  gate: AccessGate;
  ends: Pick<SessionEnds, "endRemoteSession" | "refreshGateway">;
  /** The platform's longest session (MEETPOINT_REMOTE_SESSION_MINUTES), in seconds. */
  vpn: { remoteSessionSeconds: number };
}

/** Who approves: the party, where, the audited actor and the approving user (null: a gateway). */
export interface Approver {
  party: ApprovalParty;
  where: ApprovalPlace;
  actor: Actor;
  userId: string | null;
  /** The name reports show (a person's display name); absent: the actor's name. */
  shownAs?: string;
  /** The approving gateway's id, kept with the approval when no user approved. */
  gatewayId?: string;
}

/** One recorded approval, as reports and pages list it. */
export interface ApprovalRecord {
  party: ApprovalParty;
  where: ApprovalPlace;
  by: string;
  at: Date;
}

/**
 * What an approval did: `granted` (it was the last one asked for: the request may connect now),
 * `recorded` (one party's approval; the request waits for the other), `already` (this party had
 * approved already, or the request was granted already: nothing changed).
 */
export type ApprovalOutcome =
  | { outcome: "granted"; endsAt: Date; clamped: string[] }
  | { outcome: "recorded"; waitingFor: ApprovalParty[] }
  | { outcome: "already"; granted: boolean };

/** The approvals recorded for a request, oldest first. */
export async function approvalsOf(db: Db, remoteSessionId: string): Promise<ApprovalRecord[]> {
  const rows = await db
    .select()
    .from(requestApprovals)
    .where(eq(requestApprovals.remoteSessionId, remoteSessionId))
    .orderBy(asc(requestApprovals.at));
  return rows.map((r) => ({ party: r.party, where: r.where, by: r.actorName, at: r.at }));
}

/** 409 for a request that can no longer be decided, with why (`nameOf` names who denied it). */
export async function refuseEnded(
  session: RemoteSession,
  nameOf: (userId: string | null) => Promise<string>,
): Promise<void> {
  if (session.state !== "ended") return;
  switch (session.endReason) {
    case "request_expired":
      throw new StateError(
        "ERR_REQUEST_EXPIRED",
        `The request expired at ${session.endedAt?.toISOString()}: nobody decided it in time. The technician must request access again.`,
      );
    case "denied":
      throw new StateError(
        "ERR_REQUEST_DENIED",
        `The request was denied by ${await nameOf(session.endedBy)}.`,
      );
    default:
      throw new StateError(
        "ERR_SESSION_ENDED",
        `The session has ended (${session.endReason?.replaceAll("_", " ")}).`,
      );
  }
}

/**
 * The request as its site and machine allow it now (request-rules.ts clampAtApproval): the site's
 * current maximum, the services still enabled. 409 ERR_NO_SERVICE_LEFT when none is.
 */
export async function currentGrant(
  deps: Pick<ApprovalDeps, "db" | "vpn">,
  session: SessionView,
): Promise<ClampedGrant> {
  const { db } = deps;
  const [site] = await db
    .select({ maxSessionMinutes: sites.maxSessionMinutes })
    .from(gateways)
    .innerJoin(sites, eq(sites.id, gateways.siteId))
    .where(eq(gateways.id, session.gatewayId));
  if (!site) throw new NotFoundError("Site");
  const enabled = session.machineId
    ? await db
        .select()
        .from(services)
        .where(and(eq(services.machineId, session.machineId), eq(services.enabled, true)))
    : [];
  return clampAtApproval(session, {
    siteMaxMinutes: site.maxSessionMinutes,
    platformSeconds: deps.vpn.remoteSessionSeconds,
    enabled,
  });
}

/**
 * Records `approver`'s approval of a pending request and grants it when every party of its policy
 * has approved (the clock counts from this moment), for the services and minutes the site and
 * machine allow now (currentGrant: what was cut is audited as `clamped`). Idempotent per party.
 * 409 for a request ended, denied or expired (an expiry found now is recorded as the system's
 * first), for a party the policy does not ask, while the gateway is offline, and when none of the
 * requested services is still enabled (ERR_NO_SERVICE_LEFT: the request stays pending).
 */
export async function approveRequest(
  deps: ApprovalDeps,
  session: SessionView,
  approver: Approver,
  nameOf: (userId: string | null) => Promise<string>,
): Promise<ApprovalOutcome> {
  const { db, clock, pki } = deps;
  const again = async () => {
    const fresh = await remoteSessionById(db, session.id);
    return approveRequest(deps, { ...session, ...fresh }, approver, nameOf);
  };
  const parties = approvalParties(session.consentPolicy);
  if (!parties.includes(approver.party))
    throw new StateError("ERR_NOT_YOUR_APPROVAL", notAskedText(session, approver.party));
  if (session.approvedAt && session.state !== "pending")
    return { outcome: "already", granted: true };
  await refuseEnded(session, nameOf);
  const now = clock.now();
  const grant = await currentGrant(deps, session);
  const transition = nextState(
    { ...timesOf(session), durationSeconds: grant.durationSeconds },
    {
      type: "approve",
      at: now,
      configSeconds: pki.policy.technicianSeconds,
    },
  );
  if (transition.session.state === "ended") {
    // The tick has not got to it yet: it expired at its deadline all the same.
    await deps.ends.endRemoteSession(
      session.id,
      "request_expired",
      SYSTEM_ACTOR,
      {},
      {
        onlyIfPending: true,
      },
    );
    return again();
  }
  const before = await approvalsOf(db, session.id);
  if (before.some((a) => a.party === approver.party)) return { outcome: "already", granted: false };
  deps.gate.require();
  const channel = await gatewaySessionById(db, session.gatewaySessionId);
  if (channel?.state !== "online")
    throw new StateError(
      "ERR_GATEWAY_OFFLINE",
      "The gateway is offline: the request cannot be allowed until its operator connects it again.",
    );
  const { configExpiresAt, endsAt } = transition.session;
  const result = await inTransaction(db, async (tx) => {
    // The request's row is the lock: two parties approving at once see each other's approval.
    const [locked] = await tx
      .select({ state: remoteSessions.state })
      .from(remoteSessions)
      .where(eq(remoteSessions.id, session.id))
      .for("update");
    if (locked?.state !== "pending") return null;
    const inserted = await tx
      .insert(requestApprovals)
      .values({
        remoteSessionId: session.id,
        party: approver.party,
        where: approver.where,
        actorId: approver.userId ?? approver.gatewayId ?? approver.actor.id,
        actorName: approver.shownAs ?? approver.actor.name,
        at: now,
      })
      .onConflictDoNothing()
      .returning({ id: requestApprovals.id });
    if (inserted.length === 0) return null;
    const given = await tx
      .select({ party: requestApprovals.party })
      .from(requestApprovals)
      .where(eq(requestApprovals.remoteSessionId, session.id));
    const waitingFor = parties.filter((p) => !given.some((g) => g.party === p));
    const granted = waitingFor.length === 0;
    if (granted)
      await tx
        .update(remoteSessions)
        .set({
          state: "requested",
          approvedAt: now,
          approvedBy: approver.userId,
          configExpiresAt,
          endsAt,
          durationSeconds: grant.durationSeconds,
          services: grant.services,
        })
        .where(and(eq(remoteSessions.id, session.id), eq(remoteSessions.state, "pending")));
    await recordAudit(tx, clock, {
      actor: approver.actor,
      action: "remote_session.approve",
      target: { type: "machine", id: session.machineId ?? session.gatewayId },
      customerId: session.customerId,
      detail: {
        remoteSessionId: session.id,
        technician: session.technicianName,
        where: approver.where,
        party: approver.party,
        // Under two-party consent the first approval grants nothing: it says whom it waits for.
        granted,
        waitingFor,
        services: grant.services.map((s) => `${s.protocol}/${s.port}`),
        mode: session.mode,
        minutes: grant.durationSeconds / 60,
        ...(granted ? { endsAt: endsAt.toISOString() } : {}),
        ...(grant.clamped.length ? { clamped: grant.clamped } : {}),
      },
    });
    return { granted, waitingFor };
  });
  // Someone decided meanwhile (or this party approved twice at once): say what stands now.
  if (!result) return again();
  if (!result.granted) return { outcome: "recorded", waitingFor: result.waitingFor };
  // The gateway opens its side for the approved services now.
  await deps.ends.refreshGateway(session.gatewaySessionId, "remote session approved");
  return { outcome: "granted", endsAt, clamped: grant.clamped };
}

/** Why `party` may not approve under the session's policy (409 text). */
function notAskedText(session: RemoteSession, party: ApprovalParty): string {
  switch (session.consentPolicy) {
    case "operator_connect":
      return "This session needed no approval: the site's consent policy is operator Connect.";
    case "operator_approval":
      return "Under this site's consent policy the operator at the machine approves requests, on the gateway: a customer approver cannot allow it (deny it, or end the session).";
    case "customer_approval":
      return party === "gateway"
        ? "Under this site's consent policy a customer approver allows requests in the portal, not the gateway."
        : "This party does not approve under the site's consent policy.";
    case "two_party":
      return "This party does not approve under the site's consent policy.";
  }
}
