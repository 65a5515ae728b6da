// Remote access in the portal: Connect on a machine (one-time .ovpn with countdown), Disconnect,
// and the session list with history, flow evidence and the data plane's state.
import { checkProxyHost, parseProxyPort } from "@meetpoint/common";
import { Hono } from "hono";
import { recordAuditAlone } from "../../audit/index.ts";
import { getMachine } from "../../masterdata/index.ts";
import { isDomainError, NotFoundError, ValidationError } from "../../shared/index.ts";
import type { WebEnv } from "../env.ts";
import { type FormFields, formFields } from "../forms.ts";
import { signedIn } from "../middleware.ts";
import { DataPlaneNotice } from "../remote-access.tsx";
import { keepForOneShowing } from "../reveals.ts";
import { PortalPage } from "../views/components.tsx";
import { PendingRequests } from "../views/consent.tsx";
import { Notice } from "../views/layout.tsx";
import { SessionTable } from "../views/sessions.tsx";

/** What the Sessions page says after a decision (the POST redirects here with its outcome). */
const DECISION_WORDS: Record<string, string> = {
  approved: "Request allowed: the technician can now download their one-time connection file.",
  approved_partly:
    "Your approval is recorded: the technician gets access once the operator at the machine approves too.",
  approved_clamped:
    "Request allowed, clamped to the site's current rules (a lower maximum duration, or services disabled since the request): the session below shows what was granted; the audit log says what was cut.",
  denied: "Request denied: the technician gets no access.",
  already_approved: "This request was approved already: nothing changed.",
  already_denied: "This request was denied already: nothing changed.",
};

/**
 * The technician's corporate proxy from the Connect form: none when both fields are empty;
 * otherwise host and port checked (400 naming the field: a scheme, spaces, a port out of range).
 */
function httpProxyOf(form: FormFields): { host: string; port: number } | null {
  const host = (form.proxyHost ?? "").trim();
  const portText = (form.proxyPort ?? "").trim();
  if (host === "" && portText === "") return null;
  const hostError = checkProxyHost(host);
  if (host === "" || hostError)
    throw new ValidationError("proxyHost", `must be ${hostError ?? "a host name or IPv4 address"}`);
  const port = parseProxyPort(portText);
  if (port === null) throw new ValidationError("proxyPort", "must be a port, 1-65535");
  return { host: host.toLowerCase(), port };
}

/**
 * A Connect form as the request it asks for: the services ticked (`service.<id>`, when the form
 * offered the choice), the minutes, ticket and mode (full / read_only) when given.
 */
function requestOf(form: FormFields): Record<string, unknown> {
  const request: Record<string, unknown> = { reason: form.reason };
  if (form.ticket?.trim()) request.ticket = form.ticket;
  if (form.minutes?.trim()) request.minutes = form.minutes;
  if (form.mode?.trim()) request.mode = form.mode;
  if (form.servicesChosen)
    request.services = Object.keys(form)
      .filter((name) => name.startsWith("service."))
      .map((name) => name.slice("service.".length));
  return request;
}

export function sessionRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/sessions", async (c) => {
    const ctx = c.get("ctx");
    const { remoteSessions, requests } = c.get("deps").access;
    const all = await remoteSessions.list(ctx);
    const pending = await requests.pending(ctx);
    const decision = DECISION_WORDS[c.req.query("decision") ?? ""];
    return c.html(
      <PortalPage
        title="Remote sessions"
        csrfToken={c.get("csrfToken")}
        principal={ctx.caller.principal}
      >
        <DataPlaneNotice c={c} />
        {decision ? <Notice kind="ok">{decision}</Notice> : null}
        <PendingRequests requests={pending} csrfToken={c.get("csrfToken")} />
        <h2>Sessions</h2>
        <SessionTable
          sessions={all}
          principal={ctx.caller.principal}
          csrfToken={c.get("csrfToken")}
        />
      </PortalPage>,
    );
  });

  /** Connect: the one-time .ovpn is kept for one showing at /once/<id>, where this redirects. */
  app.post("/machines/:id/connect", async (c) => {
    const ctx = c.get("ctx");
    const deps = c.get("deps");
    const machine = await getMachine(ctx, c.req.param("id"));
    const form = await formFields(c);
    let requested: Awaited<ReturnType<typeof deps.access.remoteSessions.submit>>;
    try {
      requested = await deps.access.remoteSessions.submit(ctx, machine.id, requestOf(form), {
        httpProxy: httpProxyOf(form),
      });
    } catch (error) {
      // A refused Connect (gateway offline, no service, not this customer's technician, data plane
      // off) is audited; a form to correct is not a refusal.
      if (
        isDomainError(error) &&
        !(error instanceof ValidationError) &&
        !(error instanceof NotFoundError)
      )
        await recordAuditAlone(deps.db, deps.clock, {
          actor: ctx.caller.actor,
          action: "remote_session.request",
          target: { type: "machine", id: machine.id },
          customerId: machine.customerId,
          result: "denied",
          detail: { name: machine.name, reason: error.message, code: error.code },
        });
      throw error;
    }
    const { session, profile } = requested;
    // A request that needs approval waits on its own page; the file comes after the approval.
    if (profile === null) return c.redirect(`/requests/${session.id}`, 303);
    const shown = await keepForOneShowing(deps, signedIn(c).id, "connection_profile", {
      sessionId: session.id,
      machineId: machine.id,
      fileName: `meetpoint-${session.id}.ovpn`,
      profile,
      configExpiresAt: session.configExpiresAt.toISOString(),
      endsAt: session.endsAt.toISOString(),
      reach: session.services
        .map((s) => `${machine.proxyAddress} ${s.protocol}/${s.port} (${s.name})`)
        .join(", "),
    });
    return c.redirect(shown, 303);
  });

  app.post("/sessions/:id/disconnect", async (c) => {
    const session = await c
      .get("deps")
      .access.remoteSessions.disconnect(c.get("ctx"), c.req.param("id"));
    return c.redirect(
      session.machineId ? `/machines/${session.machineId}` : `/gateways/${session.gatewayId}`,
      303,
    );
  });

  return app;
}
