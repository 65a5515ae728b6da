/** @jsxImportSource hono/jsx */
// Signing in and out: the password form, back-off after wrong passwords (429 with Retry-After).
import { Hono } from "hono";
import { deleteCookie } from "hono/cookie";
import type { EventLog } from "../../agent/events.ts";
import type { OperatorAuth } from "../auth.ts";
import { clientIp, OPERATOR_COOKIE, setOperatorCookie, type UiEnv } from "../session.ts";
import { Card, Notice, Page, PostForm } from "../views.tsx";

export interface SignInDeps {
  auth: Pick<OperatorAuth, "signIn">;
  events: Pick<EventLog, "add">;
}

function SignInPage(props: { error?: string; demo: boolean }) {
  return (
    <Page title="Sign in" demo={props.demo}>
      <Card title="Operator sign-in">
        <Notice kind="error" text={props.error} />
        <PostForm action="/sign-in" submit="Sign in">
          <label for="password">Password</label>
          <input
            id="password"
            name="password"
            type="password"
            autocomplete="current-password"
            autofocus
          />
        </PostForm>
      </Card>
    </Page>
  );
}

/** GET and POST /sign-in: open to anyone on the LAN. */
export function signInRoutes({ auth, events }: SignInDeps) {
  const routes = new Hono<UiEnv>();
  routes.get("/sign-in", (c) => c.html(<SignInPage demo={c.get("demo")} />));
  routes.post("/sign-in", async (c) => {
    const form = await c.req.parseBody();
    const result = await auth.signIn(String(form.password ?? ""), clientIp(c));
    if (!result.ok) {
      events.add("warn", `operator sign-in failed (${result.message})`);
      if (result.retryAfterSeconds) c.header("Retry-After", String(result.retryAfterSeconds));
      return c.html(
        <SignInPage error={result.message} demo={c.get("demo")} />,
        result.blocked ? 429 : 401,
      );
    }
    events.add("info", "operator signed in");
    setOperatorCookie(c, result.session.id);
    return c.redirect(result.session.mustChangePassword ? "/password" : "/", 303);
  });
  return routes;
}

/** POST /sign-out: behind requireOperator. */
export function signOutRoutes({ auth }: { auth: Pick<OperatorAuth, "signOut"> }) {
  const routes = new Hono<UiEnv>();
  routes.post("/sign-out", (c) => {
    auth.signOut(c.get("session").id);
    deleteCookie(c, OPERATOR_COOKIE, { path: "/", secure: true });
    // The browser drops its cache and storage of the UI (W3C Clear Site Data).
    c.header("Clear-Site-Data", '"cache", "storage"');
    return c.redirect("/sign-in", 303);
  });
  return routes;
}
