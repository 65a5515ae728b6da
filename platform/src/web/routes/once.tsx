// /once/<id>: where a POST that made a secret redirects. The first GET takes the secret (deleted
// as it is read) and shows it; every later one — reload, Back, another tab — says it was shown.
import { Hono, type Context as HonoContext } from "hono";
import { getGateway, getMachine } from "../../masterdata/index.ts";
import { isUuid } from "../../shared/index.ts";
import type { WebEnv } from "../env.ts";
import { signedIn } from "../middleware.ts";
import { takeForShowing } from "../reveals.ts";
import { GatewayCredentialsPage } from "../views/gateways.tsx";
import { ApiTokenPage, SeenOncePage, UserPasswordPage, WebhookKeyPage } from "../views/once.tsx";
import { ConnectionProfilePage } from "../views/sessions.tsx";
import { WorkstationProfilePage } from "../views/workstations.tsx";

type Payload = Record<string, unknown>;
const text = (payload: Payload, key: string) => String(payload[key] ?? "");

async function page(c: HonoContext<WebEnv>, kind: string, payload: Payload) {
  const ctx = c.get("ctx");
  const common = { csrfToken: c.get("csrfToken"), principal: ctx.caller.principal };
  switch (kind) {
    case "user_password":
      return (
        <UserPasswordPage
          {...common}
          title={text(payload, "title")}
          user={payload.user as { id: string; username: string; displayName: string }}
          password={text(payload, "password")}
        />
      );
    case "api_token":
      return (
        <ApiTokenPage {...common} name={text(payload, "name")} token={text(payload, "token")} />
      );
    case "webhook_key":
      return (
        <WebhookKeyPage
          {...common}
          target={text(payload, "target")}
          signingKey={text(payload, "key")}
        />
      );
    case "gateway_credentials": {
      const bundle = payload.bundle as Payload;
      return (
        <GatewayCredentialsPage
          {...common}
          gateway={await getGateway(ctx, text(payload, "gatewayId"))}
          secret={text(payload, "secret")}
          created={payload.created === true}
          bundle={{
            token: text(bundle, "token"),
            version: Number(bundle.version),
            expiresAt: new Date(text(bundle, "expiresAt")),
            fileName: text(bundle, "fileName"),
          }}
        />
      );
    }
    case "workstation_profile": {
      const gateway = await getGateway(ctx, text(payload, "gatewayId"));
      return (
        <WorkstationProfilePage
          {...common}
          gateway={{ id: gateway.id, name: gateway.name }}
          fileName={text(payload, "fileName")}
          profile={text(payload, "profile")}
          connectBy={new Date(text(payload, "connectBy"))}
        />
      );
    }
    default: {
      // A technician's session to a machine, or a platform admin's SSH maintenance of a gateway.
      const target = payload.gatewayId
        ? await getGateway(ctx, text(payload, "gatewayId")).then((g) => ({
            name: g.name,
            address: text(payload, "address"),
            href: `/gateways/${g.id}`,
            list: ["Gateways", "/gateways"] as [string, string],
          }))
        : await getMachine(ctx, text(payload, "machineId")).then((m) => ({
            name: m.name,
            address: m.proxyAddress,
            href: `/machines/${m.id}`,
            list: ["Machines", "/machines"] as [string, string],
          }));
      return (
        <ConnectionProfilePage
          {...common}
          view={{
            sessionId: text(payload, "sessionId"),
            target,
            fileName: text(payload, "fileName"),
            profile: text(payload, "profile"),
            configExpiresAt: new Date(text(payload, "configExpiresAt")),
            endsAt: new Date(text(payload, "endsAt")),
            reach: text(payload, "reach"),
          }}
        />
      );
    }
  }
}

export function onceRoutes() {
  const app = new Hono<WebEnv>();
  app.get("/once/:id", async (c) => {
    c.header("Cache-Control", "no-store");
    const id = c.req.param("id");
    const taken = isUuid(id) ? await takeForShowing(c.get("deps"), signedIn(c).id, id) : null;
    if (!taken)
      return c.html(
        <SeenOncePage csrfToken={c.get("csrfToken")} principal={c.get("ctx").caller.principal} />,
        410,
      );
    return c.html(await page(c, taken.kind, taken.payload));
  });
  return app;
}
