// A gateway's signed settings in the portal (/gateways/:id/settings): SSH maintenance server, its
// authorized keys, and the operator UI's reach. Everyone who may read the gateway sees them; only
// platform admins change them (gateways/settings.ts checks, signs and audits every change).
import { checkHttpProxy } from "@meetpoint/common";
import { Hono } from "hono";
import { inScope, scopeOf } from "../../access/index.ts";
import { recordAuditAlone } from "../../audit/index.ts";
import {
  changeGatewaySettings,
  type GatewaySettingsChange,
  issueEnrollmentBundle,
  mayChangeGatewaySettings,
  readGatewaySettings,
} from "../../gateways/index.ts";
import { getGateway, rekeyGateway } from "../../masterdata/index.ts";
import { ValidationError } from "../../shared/index.ts";
import type { WebEnv } from "../env.ts";
import { type FormFields, formFields } from "../forms.ts";
import { signedIn } from "../middleware.ts";
import { keepForOneShowing } from "../reveals.ts";
import { GatewaySettingsPage } from "../views/gateway-settings.tsx";

function options(form: FormFields): GatewaySettingsChange {
  const reach = form.uiReach ?? "lan";
  if (reach !== "lan" && reach !== "lan-and-wan")
    throw new ValidationError("uiReach", "must be lan or lan-and-wan");
  return {
    kind: "options",
    sshEnabled: form.sshEnabled === "on",
    operatorKeys: form.operatorKeys === "on",
    uiReach: reach,
    ...(form.seen !== undefined ? { seen: form.seen } : {}),
  };
}

export function gatewaySettingsRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/gateways/:id/settings", async (c) => {
    const ctx = c.get("ctx");
    const gateway = await getGateway(ctx, c.req.param("id"));
    return c.html(
      <GatewaySettingsPage
        gateway={gateway}
        settings={await readGatewaySettings(ctx, gateway.id)}
        canChange={mayChangeGatewaySettings(ctx)}
        canRekey={inScope(scopeOf(ctx.caller.principal, "masterdata.manage"), gateway.customerId)}
        csrfToken={c.get("csrfToken")}
        principal={ctx.caller.principal}
      />,
    );
  });

  app.post("/gateways/:id/settings", async (c) => {
    const { db, clock, pki } = c.get("deps");
    const id = c.req.param("id");
    await changeGatewaySettings({ db, clock, pki }, c.get("ctx"), id, options(await formFields(c)));
    return c.redirect(`/gateways/${id}/settings`, 303);
  });

  app.post("/gateways/:id/settings/keys", async (c) => {
    const { db, clock, pki } = c.get("deps");
    const id = c.req.param("id");
    const form = await formFields(c);
    await changeGatewaySettings({ db, clock, pki }, c.get("ctx"), id, {
      kind: "add-key",
      key: form.key ?? "",
      label: form.label ?? "",
    });
    return c.redirect(`/gateways/${id}/settings`, 303);
  });

  app.post("/gateways/:id/settings/keys/remove", async (c) => {
    const { db, clock, pki } = c.get("deps");
    const id = c.req.param("id");
    await changeGatewaySettings({ db, clock, pki }, c.get("ctx"), id, {
      kind: "remove-key",
      fingerprint: (await formFields(c)).fingerprint ?? "",
    });
    return c.redirect(`/gateways/${id}/settings`, 303);
  });

  /**
   * Re-key with the plant's proxy in the bundle: a new secret and an enrollment bundle that tells
   * the gateway to reach the platform through the proxy (host, port, optional Basic credentials —
   * checked, 400 naming the field). Shown once at /once/<id>; the proxy's password is in the
   * bundle only, never stored or audited here.
   */
  app.post("/gateways/:id/settings/bundle", async (c) => {
    const deps = c.get("deps");
    const ctx = c.get("ctx");
    const form = await formFields(c);
    const checked = checkHttpProxy({
      host: form.proxyHost ?? "",
      port: form.proxyPort ?? "",
      username: form.proxyUser ?? "",
      password: form.proxyPassword ?? "",
    });
    if (!checked.ok) {
      const field = {
        host: "proxyHost",
        port: "proxyPort",
        username: "proxyUser",
        password: "proxyPassword",
      }[checked.field];
      throw new ValidationError(field, checked.message);
    }
    const secret = await rekeyGateway(ctx, c.req.param("id"));
    const gateway = await getGateway(ctx, c.req.param("id"));
    const bundle = await issueEnrollmentBundle(deps.pki, {
      gatewayId: gateway.id,
      secret,
      platformUrl: deps.enrollment.platformUrl,
      validMs: deps.enrollment.validMs,
      now: deps.clock.now(),
      proxy: checked.proxy,
    });
    await recordAuditAlone(deps.db, deps.clock, {
      actor: ctx.caller.actor,
      action: "gateway.enrollment_bundle",
      target: { type: "gateway", id: gateway.id },
      customerId: gateway.customerId,
      detail: {
        version: bundle.version,
        expiresAt: bundle.expiresAt.toISOString(),
        proxy: `${checked.proxy.host}:${checked.proxy.port}`,
        proxyUser: checked.proxy.username,
      },
    });
    const shown = await keepForOneShowing(deps, signedIn(c).id, "gateway_credentials", {
      gatewayId: gateway.id,
      secret,
      created: false,
      bundle: { ...bundle, expiresAt: bundle.expiresAt.toISOString() },
    });
    return c.redirect(shown, 303);
  });

  return app;
}
