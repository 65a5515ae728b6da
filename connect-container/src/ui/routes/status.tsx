/** @jsxImportSource hono/jsx */
// Remote access: the live status panel and the big Connect and Disconnect buttons; while a request
// waits for the operator, its consent screen with Allow and Deny.
import { type Context, Hono } from "hono";
import type { Agent } from "../../agent/agent.ts";
import { DECISION_WORDS } from "../consent-screen.tsx";
import type { UiEnv } from "../session.ts";
import { StatusPanel } from "../status-panel.tsx";
import { Notice, Page } from "../views.tsx";

export type StatusDeps = {
  agent: Pick<Agent, "status" | "enrollment" | "contact" | "connect" | "disconnect" | "consent">;
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
      pending={agent.consent.pending()}
      now={new Date()}
    />
  );
  const page = (c: Context<UiEnv>, notice: { kind: "ok" | "error"; text: string } | null) => (
    <Page title="Remote access" csrf={c.get("session").csrf} nav demo={c.get("demo")}>
      {notice ? <Notice kind={notice.kind} text={notice.text} /> : null}
      {panel(c)}
    </Page>
  );
  routes.get("/", (c) => {
    const words = DECISION_WORDS[c.req.query("decision") ?? ""];
    return c.html(page(c, words ? { kind: "ok", text: words } : null));
  });
  /** The operator's Allow or Deny on this screen: the result, then the next request (if any). */
  routes.post("/requests/:id/:decision{allow|deny}", async (c) => {
    const decision = c.req.param("decision") === "allow" ? "allow" : "deny";
    const result = await agent.consent.decide(c.req.param("id"), decision, "gateway UI");
    if (result.ok) return c.redirect(`/?decision=${result.outcome}`, 303);
    return c.html(page(c, { kind: "error", text: result.message }), result.status);
  });
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
