// Requests under the consent policy customer_approval: a customer approver (a customer admin of the
// customer, or an operator of its customer or site) allows or denies each one in the portal; the
// technician gets the one-time .ovpn only after the approval, once. The session's clock starts at
// the approval; a request nobody decides in time expires (the session tick, ends.ts).
import { and, eq, isNull } from "drizzle-orm";
import { type Context, checkId, inScope, scopeOf } from "../access/index.ts";
import { recordAudit, SYSTEM_ACTOR } from "../audit/index.ts";
import {
  type Db,
  gateways,
  inTransaction,
  remoteSessions,
  services,
  sites,
  users,
} from "../db/index.ts";
import { type Clock, ForbiddenError, NotFoundError, StateError } from "../shared/index.ts";
import type { ServerInstance } from "./data-plane.ts";
import type { SessionEnds } from "./ends.ts";
import type { AccessGate } from "./gate.ts";
import { nextState } from "./lifecycle.ts";
import { type RemoteSession, type SessionView, timesOf } from "./model.ts";
import { instanceOf, type ProfilePki } from "./profiles.ts";
import { gatewaySessionById } from "./queries.ts";
import type { RemoteSessions } from "./remote-sessions.ts";
import { type ClampedGrant, clampAtApproval, technicianProfile } from "./request-rules.ts";

export interface ConsentRequestsDeps {
  db: Db;
  clock: Clock;
  pki: ProfilePki & { policy: { technicianSeconds: number } };
  gate: AccessGate;
  ends: Pick<SessionEnds, "endRemoteSession" | "refreshGateway">;
  sessions: Pick<RemoteSessions, "list">;
  instances: ServerInstance[];
  vpn: { host: string; remoteSessionSeconds: number };
}

/** What a decision did: made now, or found already made (a repeat is a no-op). */
export interface Decision {
  outcome: "approved" | "denied" | "already_approved" | "already_denied";
  session: SessionView;
  message: string;
  /** What an approval cut to the site's current rules, in words (absent or empty: nothing). */
  clamped?: string[];
}

/** Where a decision was made (the gateway's UI and its local API come with the gateway agent). */
const WHERE = "portal";

export class ConsentRequests {
  constructor(private readonly deps: ConsentRequestsDeps) {}

  /**
   * Whether the caller may decide requests to this session's machine: through a grant for its
   * customer (or site) — consent is the customer's, so a platform-wide role decides nothing — and
   * never their own request.
   */
  static mayDecide(
    principal: Context["caller"]["principal"],
    s: Pick<SessionView, "customerId" | "siteId" | "technicianId">,
  ): boolean {
    const customers = { ...principal, grants: principal.grants.filter((g) => g.customerId) };
    return (
      s.technicianId !== principal.userId &&
      inScope(scopeOf(customers, "sessions.approve"), s.customerId, s.siteId)
    );
  }

  /** Pending requests to machines the caller may approve, oldest first. */
  async pending(ctx: Context): Promise<SessionView[]> {
    const open = await this.deps.sessions.list(ctx, { open: true });
    return open
      .filter((s) => s.state === "pending" && ConsentRequests.mayDecide(ctx.caller.principal, s))
      .reverse();
  }

  /**
   * Allows a pending request: the session may connect now, for the services and minutes asked as
   * the site and machine allow them now (a lower site maximum cuts the minutes, a service disabled
   * since is left out: said in the message and audited as `clamped`), its end counted from now. Approving an approved request changes nothing. 404 outside the
   * caller's customers; 403 for who may not approve (and for one's own request); 409 for a request
   * denied, expired or ended, while the gateway is offline, or when none of its services is still
   * enabled (ERR_NO_SERVICE_LEFT; the request stays pending).
   */
  async approve(ctx: Context, id: string): Promise<Decision> {
    const { db, clock, pki } = this.deps;
    const session = await this.decidable(ctx, id);
    if (session.approvedAt)
      return {
        outcome: "already_approved",
        session,
        message: `Already approved by ${await this.nameOf(session.approvedBy)} at ${session.approvedAt.toISOString()}: nothing changed.`,
      };
    await this.refuseEnded(session);
    const now = clock.now();
    const grant = await this.currentGrant(session);
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
      await this.deps.ends.endRemoteSession(session.id, "request_expired", SYSTEM_ACTOR);
      return this.approve(ctx, id);
    }
    this.deps.gate.require();
    const channel = await gatewaySessionById(db, session.gatewaySessionId);
    if (channel?.state !== "online")
      throw new StateError(
        "ERR_GATEWAY_OFFLINE",
        "The gateway is offline: the request cannot be allowed until its operator connects it again.",
      );
    const { configExpiresAt, endsAt } = transition.session;
    const approved = await inTransaction(db, async (tx) => {
      const rows = await tx
        .update(remoteSessions)
        .set({
          state: "requested",
          approvedAt: now,
          approvedBy: ctx.caller.principal.userId,
          configExpiresAt,
          endsAt,
          durationSeconds: grant.durationSeconds,
          services: grant.services,
        })
        .where(and(eq(remoteSessions.id, session.id), eq(remoteSessions.state, "pending")))
        .returning({ id: remoteSessions.id });
      if (rows.length === 0) return false;
      await recordAudit(tx, clock, {
        actor: ctx.caller.actor,
        action: "remote_session.approve",
        target: { type: "machine", id: session.machineId ?? session.gatewayId },
        customerId: session.customerId,
        detail: {
          remoteSessionId: session.id,
          technician: session.technicianName,
          where: WHERE,
          services: grant.services.map((s) => `${s.protocol}/${s.port}`),
          mode: session.mode,
          minutes: grant.durationSeconds / 60,
          endsAt: endsAt.toISOString(),
          ...(grant.clamped.length ? { clamped: grant.clamped } : {}),
        },
      });
      return true;
    });
    // Someone else decided it meanwhile: say what they decided.
    if (!approved) return this.approve(ctx, id);
    // The gateway opens its side for the approved services now.
    await this.deps.ends.refreshGateway(session.gatewaySessionId, "remote session approved");
    const [after] = await this.deps.sessions.list(ctx, { id: session.id });
    return {
      outcome: "approved",
      clamped: grant.clamped,
      session: after ?? session,
      message: `Allowed: ${session.technicianName} may connect until ${endsAt.toISOString()}${grant.clamped.length ? ` — clamped to the site's current rules: ${grant.clamped.join("; ")}` : ""}.`,
    };
  }

  /**
   * Denies a pending request (audited with who and where). Denying it again changes nothing; an
   * approved request is ended with Terminate instead (409), an expired one cannot be decided (409).
   */
  async deny(ctx: Context, id: string): Promise<Decision> {
    const session = await this.decidable(ctx, id);
    if (session.state === "ended" && session.endReason === "denied")
      return {
        outcome: "already_denied",
        session,
        message: `Already denied by ${await this.nameOf(session.endedBy)}: nothing changed.`,
      };
    if (session.approvedAt)
      throw new StateError(
        "ERR_REQUEST_APPROVED",
        "This request was approved already: end the session with Terminate instead.",
      );
    await this.refuseEnded(session);
    // Past its deadline it expired, whoever comes now: recorded as the system's, then refused.
    if (session.decideBy && session.decideBy.getTime() <= this.deps.clock.now().getTime()) {
      await this.deps.ends.endRemoteSession(
        session.id,
        "request_expired",
        SYSTEM_ACTOR,
        {},
        {
          onlyIfPending: true,
        },
      );
      return this.deny(ctx, id);
    }
    // Only while it still waits: an approval committed meanwhile is not turned into a denial.
    const denied = await this.deps.ends.endRemoteSession(
      session.id,
      "denied",
      ctx.caller.actor,
      { where: WHERE },
      { onlyIfPending: true },
    );
    const [after] = await this.deps.sessions.list(ctx, { id: session.id });
    if (!denied) return this.deny(ctx, id);
    if (after?.endReason !== "denied") await this.refuseEnded(after ?? session);
    return {
      outcome: "denied",
      session: after ?? session,
      message: `Denied: ${session.technicianName} gets no access.`,
    };
  }

  /**
   * The one-time .ovpn of the caller's own approved request — once (a second try is 409, as the
   * file was shown already); 409 while the request waits or after it was denied or expired.
   */
  async issueProfile(ctx: Context, id: string): Promise<{ session: SessionView; profile: string }> {
    const { db, clock } = this.deps;
    const [session] = await this.deps.sessions.list(ctx, { id: checkId(id, "Remote session") });
    if (!session || session.technicianId !== ctx.caller.principal.userId)
      throw new NotFoundError("Request");
    if (session.state === "pending")
      throw new StateError("ERR_REQUEST_PENDING", "The request is still waiting for its approval.");
    await this.refuseEnded(session);
    const claimed = await db
      .update(remoteSessions)
      .set({ profileIssuedAt: clock.now() })
      .where(
        and(
          eq(remoteSessions.id, session.id),
          eq(remoteSessions.state, "requested"),
          isNull(remoteSessions.profileIssuedAt),
        ),
      )
      .returning();
    const [row] = claimed;
    if (!row)
      throw new StateError(
        "ERR_PROFILE_ISSUED",
        "The one-time connection file of this session was issued already: request access again.",
      );
    const instance = instanceOf(this.deps.instances, row.vpnInstance);
    const profile = await technicianProfile(this.deps.pki, this.deps.vpn.host, instance, row);
    return { session: { ...session, ...row }, profile };
  }

  /**
   * What the approval of `session` may grant under its site's maximum and its machine's enabled
   * services as they are now (request-rules.ts clampAtApproval; 409 when no service is left).
   */
  private async currentGrant(session: SessionView): Promise<ClampedGrant> {
    const { db } = this.deps;
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
      platformSeconds: this.deps.vpn.remoteSessionSeconds,
      enabled,
    });
  }

  /** A request the caller may decide (404 outside their customers, 403 for who may not). */
  private async decidable(ctx: Context, id: string): Promise<SessionView> {
    const [session] = await this.deps.sessions.list(ctx, { id: checkId(id, "Request") });
    if (!session) throw new NotFoundError("Request");
    if (session.technicianId === ctx.caller.principal.userId)
      throw new ForbiddenError("You cannot decide your own request: another approver must.");
    if (!ConsentRequests.mayDecide(ctx.caller.principal, session))
      throw new ForbiddenError(
        "Only a customer admin of this customer, or an operator of its site, decides requests.",
      );
    if (session.consentPolicy !== "customer_approval")
      throw new StateError(
        "ERR_NO_APPROVAL_NEEDED",
        "This session needed no approval: the site's consent policy is operator Connect.",
      );
    return session;
  }

  /** 409 for a request that can no longer be decided, with why. */
  private async refuseEnded(session: RemoteSession): Promise<void> {
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
          `The request was denied by ${await this.nameOf(session.endedBy)}.`,
        );
      default:
        throw new StateError(
          "ERR_SESSION_ENDED",
          `The session has ended (${session.endReason?.replaceAll("_", " ")}).`,
        );
    }
  }

  /** A user's display name, for messages ("someone" for a system actor). */
  private async nameOf(userId: string | null): Promise<string> {
    if (!userId) return "someone";
    const [row] = await this.deps.db
      .select({ name: users.displayName })
      .from(users)
      .where(eq(users.id, userId));
    return row?.name ?? "someone";
  }
}
