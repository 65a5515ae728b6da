// Requests that need an approval (the operator at the machine, a customer approver, or both): the technician's page (its state updated by
// polling a small fragment), Allow and Deny, and the one-time .ovpn after the approval.
import { eq } from "drizzle-orm";
import { Hono, type Context as HonoContext } from "hono";
import { checkId, inScope, scopeOf } from "../../access/index.ts";
import { users } from "../../db/index.ts";
import { approvalsOf, type SessionView } from "../../sessions/index.ts";
import { NotFoundError } from "../../shared/index.ts";
import type { WebEnv } from "../env.ts";
import { signedIn } from "../middleware.ts";
import { keepForOneShowing } from "../reveals.ts";
import { RequestPage, RequestStatus } from "../views/consent.tsx";

/**
 * A request the caller may read: their own, or one they may decide, end or audit (sessions.approve,
 * sessions.manage or audit.read for its customer or site). Another technician's request — even of
 * the same customer — is 404, like one that does not exist.
 */
async function requestOf(c: HonoContext<WebEnv>): Promise<SessionView> {
  const id = checkId(c.req.param("id") ?? "", "Request");
  const [session] = await c.get("deps").access.remoteSessions.list(c.get("ctx"), { id });
  if (!session) throw new NotFoundError("Request");
  const principal = c.get("ctx").caller.principal;
  const overseen = (["sessions.approve", "sessions.manage", "audit.read"] as const).some((p) =>
    inScope(scopeOf(principal, p), session.customerId, session.siteId),
  );
  if (session.technicianId !== principal.userId && !overseen) throw new NotFoundError("Request");
  return session;
}

/** Who approved so far, with where ("OLGA (portal) and operator at gateway Hall 1 (gateway UI)"). */
async function approverOf(c: HonoContext<WebEnv>, session: SessionView): Promise<string | null> {
  const approvals = await approvalsOf(c.get("deps").db, session.id);
  if (approvals.length > 0) return approvals.map((a) => `${a.by} (${a.where})`).join(" and ");
  if (!session.approvedBy) return null;
  const [row] = await c
    .get("deps")
    .db.select({ name: users.displayName })
    .from(users)
    .where(eq(users.id, session.approvedBy));
  return row?.name ?? null;
}

export function requestRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/requests/:id", async (c) => {
    const session = await requestOf(c);
    return c.html(
      <RequestPage
        session={session}
        approver={await approverOf(c, session)}
        principal={c.get("ctx").caller.principal}
        csrfToken={c.get("csrfToken")}
      />,
    );
  });

  /** The fragment the request page polls every 3 s while the request waits. */
  app.get("/requests/:id/status", async (c) => {
    const session = await requestOf(c);
    return c.html(
      <RequestStatus
        session={session}
        approver={await approverOf(c, session)}
        csrfToken={c.get("csrfToken")}
        own={session.technicianId === c.get("ctx").caller.principal.userId}
      />,
    );
  });

  app.post("/requests/:id/approve", async (c) => {
    const decision = await c.get("deps").access.requests.approve(c.get("ctx"), c.req.param("id"));
    const outcome = decision.clamped?.length ? "approved_clamped" : decision.outcome;
    return c.redirect(`/sessions?decision=${outcome}`, 303);
  });

  app.post("/requests/:id/deny", async (c) => {
    const decision = await c.get("deps").access.requests.deny(c.get("ctx"), c.req.param("id"));
    return c.redirect(`/sessions?decision=${decision.outcome}`, 303);
  });

  /** The approved request's one-time .ovpn, kept for one showing at /once/<id>. */
  app.post("/requests/:id/profile", async (c) => {
    const deps = c.get("deps");
    const { session, profile } = await deps.access.requests.issueProfile(
      c.get("ctx"),
      c.req.param("id"),
    );
    const shown = await keepForOneShowing(deps, signedIn(c).id, "connection_profile", {
      sessionId: session.id,
      machineId: session.machineId,
      fileName: `meetpoint-${session.id}.ovpn`,
      profile,
      configExpiresAt: session.configExpiresAt.toISOString(),
      endsAt: session.endsAt.toISOString(),
      reach: session.services
        .map((s) => `${session.proxyAddress} ${s.protocol}/${s.port} (${s.name})`)
        .join(", "),
    });
    return c.redirect(shown, 303);
  });

  return app;
}
