// Workstations in the portal: Go online (a one-time .ovpn for that PC, shown once) and Go offline,
// for the people at the plant (operators of its customer or site).
import { Hono } from "hono";
import { getGateway } from "../../masterdata/index.ts";
import type { WebEnv } from "../env.ts";
import { signedIn } from "../middleware.ts";
import { keepForOneShowing } from "../reveals.ts";

export function workstationRoutes() {
  const app = new Hono<WebEnv>();

  app.post("/workstations/:id/online", async (c) => {
    const ctx = c.get("ctx");
    const deps = c.get("deps");
    const gateway = await getGateway(ctx, c.req.param("id"));
    const result = await deps.access.dataChannels.goOnline(ctx, gateway.id);
    if ("online" in result) return c.redirect(`/gateways/${gateway.id}?online=already`, 303);
    const connectBy = new Date(
      result.session.requestedAt.getTime() + deps.pki.policy.gatewaySeconds * 1000,
    );
    const shown = await keepForOneShowing(deps, signedIn(c).id, "workstation_profile", {
      gatewayId: gateway.id,
      fileName: `meetpoint-workstation-${gateway.id.slice(0, 8)}.ovpn`,
      profile: result.profile,
      connectBy: connectBy.toISOString(),
    });
    return c.redirect(shown, 303);
  });

  app.post("/workstations/:id/offline", async (c) => {
    const id = c.req.param("id");
    await c.get("deps").access.dataChannels.goOffline(c.get("ctx"), id);
    return c.redirect(`/gateways/${id}`, 303);
  });

  return app;
}
