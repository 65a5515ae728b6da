// The operator's session in the UI: the cookie that carries it, the client address sign-in
// back-off counts by, and the middleware that lets only a signed-in operator (with the session's
// CSRF token on every POST) past it.
import type { Context, MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { OperatorAuth, OperatorSession } from "./auth.ts";

/**
 * The UI's Hono environment: routes behind `requireOperator` read the session from it; `demo` is
 * set for every request when the agent runs with a firewall that only records (every page says so).
 */
export type UiEnv = { Variables: { session: OperatorSession; demo: boolean } };

export const OPERATOR_COOKIE = "__Host-meetpoint-operator";

/** Sets the session cookie (after sign-in, and after a password change gave a new session id). */
export function setOperatorCookie(c: Context, sessionId: string): void {
  setCookie(c, OPERATOR_COOKIE, sessionId, {
    path: "/",
    secure: true,
    httpOnly: true,
    sameSite: "Strict",
  });
}

/** The client's address as the server saw it (passed in the env by main.ts, never from a header). */
export function clientIp(c: Context): string {
  return (c.env as { clientIp?: string } | undefined)?.clientIp ?? "unknown";
}

/**
 * Lets a request through only with a live operator session; a POST also needs the session's CSRF
 * token (header or form field). Until the initial password is replaced, only /password and
 * /sign-out are open.
 */
export function requireOperator(auth: Pick<OperatorAuth, "session">): MiddlewareHandler<UiEnv> {
  return async (c, next) => {
    const session = auth.session(getCookie(c, OPERATOR_COOKIE));
    if (!session) {
      if (c.req.header("hx-request")) {
        c.header("HX-Redirect", "/sign-in");
        return c.body(null, 401);
      }
      return c.redirect("/sign-in", 303);
    }
    if (c.req.method === "POST") {
      const type = c.req.header("content-type") ?? "";
      const header = c.req.header("x-csrf-token");
      const field =
        !header && (type.includes("form") || type.includes("multipart"))
          ? String((await c.req.parseBody())._csrf ?? "")
          : "";
      if ((header ?? field) !== session.csrf)
        return c.text("The form expired (CSRF token missing or wrong): reload the page.", 403);
    }
    if (session.mustChangePassword && c.req.path !== "/password" && c.req.path !== "/sign-out")
      return c.redirect("/password", 303);
    c.set("session", session);
    await next();
  };
}
