/** @jsxImportSource hono/jsx */
// Remote access: the live status panel and the big Connect and Disconnect buttons.
import { type Context, Hono } from "hono";
import type { Agent } from "../../agent/agent.ts";
import type { UiEnv } from "../session.ts";
import { StatusPanel } from "../status-panel.tsx";
import { Page } from "../views.tsx";

export type StatusDeps = {
  agent: Pick<Agent, "status" | "enrollment" | "contact" | "connect" | "disconnect">;
};

export function statusRoutes({ agent }: StatusDeps) {
  const routes = new Hono<UiEnv>();
  const panel = (c: Context<UiEnv>) => (
    <StatusPanel
      status={agent.status}
      enrolled={agent.enrollment !== null}
      platform={agent.enrollment?.body.platformUrl ?? null}
      contact={agent.contact}
      csrf={c.get("session").csrf}
    />
  );
  routes.get("/", (c) =>
    c.html(
      <Page title="Remote access" csrf={c.get("session").csrf} nav demo={c.get("demo")}>
        {panel(c)}
      </Page>,
    ),
  );
  routes.get("/status", (c) => c.html(panel(c)));
  routes.post("/connect", async (c) => {
    await agent.connect("operator UI");
    return c.redirect("/", 303);
  });
  routes.post("/disconnect", async (c) => {
    await agent.disconnect("operator UI", null);
    return c.redirect("/", 303);
  });
  return routes;
}
