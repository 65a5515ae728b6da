/** @jsxImportSource hono/jsx */
// Settings: the local consent API's token (shown once when made) and a link to the password.
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
  const page = (c: Context<UiEnv>, newToken: string | null) => {
    const { csrf } = c.get("session");
    return c.html(
      <Page title="Settings" csrf={csrf} nav>
        <Card title="Local consent API">
          <p>
            A machine HMI or key switch on the LAN can press Connect and Disconnect and read the
            state:
            <span class="mono"> POST /api/local/v1/connect</span>,{" "}
            <span class="mono">POST /api/local/v1/disconnect</span>,{" "}
            <span class="mono">GET /api/local/v1/state</span>, with{" "}
            <span class="mono">Authorization: Bearer &lt;token&gt;</span>.
          </p>
          {newToken ? (
            <p class="notice ok">
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
  routes.post("/settings/api-token", (c) => {
    events.add("info", "local API token replaced");
    return page(c, auth.newApiToken());
  });
  return routes;
}
