// Requests under the consent policies customer_approval and two_party, as a customer approver (a
// customer admin of the customer, or an operator of its customer or site) allows or denies each one
// in the portal (under operator_approval the portal only denies); the
// technician gets the one-time .ovpn only after the approval, once. The session's clock starts at
// the approval; a request nobody decides in time expires (the session tick, ends.ts).
import type { RequestDecision } from "@meetpoint/common";
import { and, eq, isNull } from "drizzle-orm";
import { type Context, checkId, inScope, scopeOf } from "../access/index.ts";
import { SYSTEM_ACTOR } from "../audit/index.ts";
import { type Db, remoteSessions, users } from "../db/index.ts";
import { type Clock, ForbiddenError, NotFoundError, StateError } from "../shared/index.ts";
import { approvalsOf, approveRequest, refuseEnded } from "./approvals.ts";
import type { ServerInstance } from "./data-plane.ts";
import type { SessionEnds } from "./ends.ts";
import type { AccessGate } from "./gate.ts";
import { decideAtGateway, type GatewayDecision } from "./gateway-consent.ts";
import type { RemoteSession, SessionView } from "./model.ts";
import { type ProfilePki, type ServerOf, serverFor } from "./profiles.ts";
import type { RemoteSessions } from "./remote-sessions.ts";
import { technicianProfile } from "./request-rules.ts";

export interface ConsentRequestsDeps {
  db: Db;
  clock: Clock;
  pki: ProfilePki & { policy: { technicianSeconds: number } };
  gate: AccessGate;
  ends: Pick<SessionEnds, "endRemoteSession" | "refreshGateway">;
  sessions: Pick<RemoteSessions, "list">;
  instances: ServerInstance[];
  /**
   * `host`: this instance's OpenVPN host; `serverOf`: the server of another instance holding a
   * channel (instances/registry.ts), for configs that must reach *that* kernel.
   */
  vpn: { host: string; remoteSessionSeconds: number; serverOf?: ServerOf };
}

/** What a decision did: made now, or found already made (a repeat is a no-op). */
export interface Decision {
  /** approved_partly: one party of two approved (two-party consent); nothing is granted yet. */
  outcome: "approved" | "approved_partly" | "denied" | "already_approved" | "already_denied";
  session: SessionView;
  message: string;
  /** What an approval cut to the site's current rules, in words (absent or empty: nothing). */
  clamped?: string[];
}

/** Where a customer approver decides. */
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
    const session = await this.decidable(ctx, id);
    const approval = await approveRequest(
      this.deps,
      session,
      {
        party: "portal",
        where: WHERE,
        actor: ctx.caller.actor,
        userId: ctx.caller.principal.userId,
        shownAs: await this.nameOf(ctx.caller.principal.userId),
      },
      (userId) => this.nameOf(userId),
    );
    const [after] = await this.deps.sessions.list(ctx, { id: session.id });
    const now = after ?? session;
    switch (approval.outcome) {
      case "already":
        return {
          outcome: "already_approved",
          session: now,
          message: approval.granted
            ? `Already approved (${await this.approvedText(session.id)}): nothing changed.`
            : "You approved already: the request waits for the operator at the machine. Nothing changed.",
        };
      case "recorded":
        return {
          outcome: "approved_partly",
          session: now,
          message: `Approved in the portal: ${session.technicianName} gets access once the operator at the machine approves too.`,
        };
      case "granted":
        return {
          outcome: "approved",
          clamped: approval.clamped,
          session: now,
          message: `Allowed: ${session.technicianName} may connect until ${approval.endsAt.toISOString()}${approval.clamped.length ? ` — clamped to the site's current rules: ${approval.clamped.join("; ")}` : ""}.`,
        };
    }
  }

  /**
   * The operator's Allow / Deny at `gateway` (its UI or local API), as the gateway API reports it:
   * see decideAtGateway (404 for a request not through this gateway, 409 when no longer pending).
   */
  decideAtGateway(
    gateway: { id: string; name: string },
    id: string,
    decision: RequestDecision,
    ip: string | null,
  ): Promise<GatewayDecision> {
    return decideAtGateway(this.deps, gateway, id, decision.decision, decision.where, ip);
  }

  /** Who approved a granted request, where and when ("Ann Approver in the portal at …"). */
  private async approvedText(id: string): Promise<string> {
    const approvals = await approvalsOf(this.deps.db, id);
    return approvals.map((a) => `${a.by} in the ${a.where} at ${a.at.toISOString()}`).join("; ");
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
    const { host, instance } = await serverFor(this.deps, row.instanceId, row.vpnInstance);
    const profile = await technicianProfile(this.deps.pki, host, instance, row);
    return { session: { ...session, ...row }, profile };
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
    if (session.consentPolicy === "operator_connect")
      throw new StateError(
        "ERR_NO_APPROVAL_NEEDED",
        "This session needed no approval: the site's consent policy is operator Connect.",
      );
    return session;
  }

  /** 409 for a request that can no longer be decided, with why. */
  private refuseEnded(session: RemoteSession): Promise<void> {
    return refuseEnded(session, (userId) => this.nameOf(userId));
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
