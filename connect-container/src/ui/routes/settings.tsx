/** @jsxImportSource hono/jsx */
// Settings: the local consent API's token (shown once when made) and a link to the password.
import { randomUUID } from "node:crypto";
import { type Context, Hono } from "hono";
import type { EventLog } from "../../agent/events.ts";
import type { OperatorAuth } from "../auth.ts";
import type { UiEnv } from "../session.ts";
import { Card, Page, PostForm } from "../views.tsx";

export interface SettingsDeps {
  auth: Pick<OperatorAuth, "hasApiToken" | "newApiToken">;
  events: Pick<EventLog, "add">;
}

export function settingsRoutes({ auth, events }: SettingsDeps) {
  const routes = new Hono<UiEnv>();
  const page = (c: Context<UiEnv>, newToken: string | null, seen = false) => {
    const { csrf } = c.get("session");
    return c.html(
      <Page title="Settings" csrf={csrf} nav demo={c.get("demo")}>
        <Card title="Local consent API">
          <p>
            A machine HMI or key switch on the LAN can press Connect and Disconnect and read the
            state:
            <span class="mono"> POST /api/local/v1/connect</span>,{" "}
            <span class="mono">POST /api/local/v1/disconnect</span>,{" "}
            <span class="mono">GET /api/local/v1/state</span>; list the technicians' requests
            waiting for the operator and allow or deny them:{" "}
            <span class="mono">GET /api/local/v1/requests</span>,{" "}
            <span class="mono">POST /api/local/v1/requests/&lt;id&gt;/allow</span>,{" "}
            <span class="mono">POST /api/local/v1/requests/&lt;id&gt;/deny</span>; and light a lamp
            while one waits: <span class="mono">GET /api/local/v1/signal</span>. Every call needs{" "}
            <span class="mono">Authorization: Bearer &lt;token&gt;</span>; after 10 wrong tokens
            within a minute a source is answered 429 until the minute ends.
          </p>
          {seen ? (
            <p class="notice">
              You saw this token once: it is not shown again. Create a new one if it is lost.
            </p>
          ) : null}
          {newToken ? (
            <p class="notice ok" hx-history="false">
              New token (shown once, the previous one no longer works):{" "}
              <span class="mono" id="api-token">
                {newToken}
              </span>
            </p>
          ) : (
            <p>{auth.hasApiToken() ? "A token is set." : "No token yet: the API is closed."}</p>
          )}
          <PostForm action="/settings/api-token" csrf={csrf} submit="Create a new token" />
        </Card>
        <Card>
          <a href="/password">Change the operator password</a>
        </Card>
      </Page>,
    );
  };
  routes.get("/settings", (c) => page(c, null));
  // The new token waits in the session for one GET (POST → redirect → GET): a reload or Back
  // finds it gone and says so, and never makes another token.
  routes.post("/settings/api-token", (c) => {
    events.add("info", "local API token replaced");
    const id = randomUUID();
    c.get("session").shownOnce = { id, secret: auth.newApiToken() };
    return c.redirect(`/settings/api-token/${id}`, 303);
  });
  routes.get("/settings/api-token/:id", (c) => {
    const session = c.get("session");
    const waiting = session.shownOnce;
    if (!waiting || waiting.id !== c.req.param("id")) return page(c, null, true);
    session.shownOnce = undefined;
    return page(c, waiting.secret);
  });
  return routes;
}
