/** @jsxImportSource hono/jsx */
// The operator's password: replaced at first sign-in (nothing else opens before), changed later.
import { type Context, Hono } from "hono";
import type { EventLog } from "../../agent/events.ts";
import { MIN_PASSWORD_LENGTH, type OperatorAuth } from "../auth.ts";
import { setOperatorCookie, type UiEnv } from "../session.ts";
import { Card, Notice, Page, PostForm } from "../views.tsx";

export interface PasswordDeps {
  auth: Pick<OperatorAuth, "changePassword">;
  events: Pick<EventLog, "add">;
}

function passwordPage(c: Context<UiEnv>, error: string | null, status: 200 | 400 = 200) {
  const { csrf, mustChangePassword } = c.get("session");
  return c.html(
    <Page title="Password" csrf={csrf} nav={!mustChangePassword}>
      <Card title={mustChangePassword ? "Choose your own password" : "Change password"}>
        {mustChangePassword ? (
          <p>The initial password must be replaced before the gateway can be used.</p>
        ) : null}
        <Notice kind="error" text={error} />
        <PostForm action="/password" csrf={csrf} submit="Save">
          <label for="current">Current password</label>
          <input id="current" name="current" type="password" autocomplete="current-password" />
          <label for="next">New password (at least {MIN_PASSWORD_LENGTH} characters)</label>
          <input id="next" name="next" type="password" autocomplete="new-password" />
        </PostForm>
      </Card>
    </Page>,
    status,
  );
}

export function passwordRoutes({ auth, events }: PasswordDeps) {
  const routes = new Hono<UiEnv>();
  routes.get("/password", (c) => passwordPage(c, null));
  routes.post("/password", async (c) => {
    const form = await c.req.parseBody();
    const session = c.get("session");
    const error = await auth.changePassword(
      session,
      String(form.current ?? ""),
      String(form.next ?? ""),
    );
    if (error) return passwordPage(c, error, 400);
    events.add("info", "operator password changed");
    setOperatorCookie(c, session.id);
    return c.redirect("/", 303);
  });
  return routes;
}
