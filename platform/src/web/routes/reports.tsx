// Transparency reports of ended remote sessions: the page, and the download signed by the platform
// (audited: who downloaded which report). The public signing key is served by the app itself
// (/pki/signing-key.jwk, no sign-in), so a customer can verify offline.
import type { Context as HonoContext } from "hono";
import { Hono } from "hono";
import { checkId } from "../../access/index.ts";
import { recordAuditAlone } from "../../audit/index.ts";
import { mayReadReport, signedReportFile, transparencyReport } from "../../reports/index.ts";
import { auditSigner } from "../../retention/index.ts";
import type { SessionView } from "../../sessions/index.ts";
import { ForbiddenError, NotFoundError } from "../../shared/index.ts";
import type { WebEnv } from "../env.ts";
import { ReportPage } from "../views/report.tsx";

/**
 * The session behind `/sessions/:id/report…`: 404 for an id outside the caller's scope (as in the
 * session list), 403 when visible but the caller's role reads no reports.
 */
async function reportedSession(c: HonoContext<WebEnv>): Promise<SessionView> {
  const ctx = c.get("ctx");
  const id = checkId(c.req.param("id") ?? "", "Remote session");
  const [session] = await c.get("deps").access.remoteSessions.list(ctx, { id });
  if (!session) throw new NotFoundError("Remote session");
  if (!mayReadReport(ctx.caller.principal, session))
    throw new ForbiddenError(
      "Transparency reports are for the customer's admins, operators and auditors.",
    );
  return session;
}

export function reportRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/sessions/:id/report", async (c) => {
    const session = await reportedSession(c);
    const report = await transparencyReport(c.get("deps"), session);
    return c.html(
      <ReportPage
        report={report}
        principal={c.get("ctx").caller.principal}
        csrfToken={c.get("csrfToken")}
      />,
    );
  });

  /** The signed file (see reports/signed.ts); each download is an audit entry. */
  app.get("/sessions/:id/report.json", async (c) => {
    const deps = c.get("deps");
    const session = await reportedSession(c);
    const report = await transparencyReport(deps, session);
    const file = await signedReportFile(await auditSigner(deps.db, deps.pki), report);
    await recordAuditAlone(deps.db, deps.clock, {
      actor: c.get("ctx").caller.actor,
      action: "remote_session.report",
      target: session.machineId
        ? { type: "machine", id: session.machineId }
        : { type: "gateway", id: session.gatewayId },
      customerId: session.customerId,
      detail: {
        reportOf: session.id,
        kid: file.kid,
        auditFirstSeq: report.audit.first?.seq ?? null,
        auditLastSeq: report.audit.last?.seq ?? null,
      },
    });
    return c.body(`${JSON.stringify(file, null, 2)}\n`, 200, {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Disposition": `attachment; filename="meetpoint-report-${session.id}.json"`,
    });
  });

  return app;
}
