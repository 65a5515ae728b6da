// A gateway's signed settings in the portal (/gateways/:id/settings): SSH maintenance server, its
// authorized keys, and the operator UI's reach. Everyone who may read the gateway sees them; only
// platform admins change them (gateways/settings.ts checks, signs and audits every change).
import { Hono } from "hono";
import {
  changeGatewaySettings,
  type GatewaySettingsChange,
  mayChangeGatewaySettings,
  readGatewaySettings,
} from "../../gateways/index.ts";
import { getGateway } from "../../masterdata/index.ts";
import { ValidationError } from "../../shared/index.ts";
import type { WebEnv } from "../env.ts";
import { type FormFields, formFields } from "../forms.ts";
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

  return app;
}
