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
import { SessionTable } from "../views/sessions.tsx";

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

export function sessionRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/sessions", async (c) => {
    const ctx = c.get("ctx");
    const all = await c.get("deps").access.remoteSessions.list(ctx);
    return c.html(
      <PortalPage
        title="Remote sessions"
        csrfToken={c.get("csrfToken")}
        principal={ctx.caller.principal}
      >
        <DataPlaneNotice c={c} />
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
    let requested: Awaited<ReturnType<typeof deps.access.remoteSessions.request>>;
    try {
      requested = await deps.access.remoteSessions.request(ctx, machine.id, form, {
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
