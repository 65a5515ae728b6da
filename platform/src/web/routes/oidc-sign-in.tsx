// Sign-in through an identity provider: the redirect to it and its callback.
import { Hono, type Context as HonoContext } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import {
  beginOidcSignIn,
  completeOidcSignIn,
  createWebSession,
  enabledProviders,
  endWebSession,
  randomToken,
} from "../../identity/index.ts";
import type { WebEnv } from "../env.ts";
import { PRE_SESSION_COOKIE, STAGE_PAGES, setSessionCookie } from "../middleware.ts";
import { signedInPage, signInPage } from "../views/sign-in.tsx";

/**
 * Binds a started sign-in to this browser. SameSite=Lax, unlike the portal's other cookies: the
 * provider's redirect back is a cross-site navigation, on which Strict cookies are not sent.
 */
const BINDING_COOKIE = "__Host-meetpoint-oidc";

export function oidcSignInRoutes() {
  const app = new Hono<WebEnv>();

  const refused = async (c: HonoContext<WebEnv>, message: string, status: 401 | 429 = 401) =>
    c.html(
      signInPage({
        csrfToken: c.get("csrfToken"),
        providers: status === 429 ? [] : await enabledProviders(c.get("deps").db),
        localSignIn: c.get("deps").localSignIn !== false,
        error: message,
      }),
      status,
    );

  /** The source's turn at the sign-in guard; a Response when it must wait (429). */
  const throttled = async (c: HonoContext<WebEnv>) => {
    const wait = c.get("deps").authFailures.signIn.windows.attempt(c.get("ip"));
    if (wait === 0) return null;
    c.header("Retry-After", String(wait));
    return refused(
      c,
      `Too many failed sign-ins from your network address. Try again in ${wait} s.`,
      429,
    );
  };

  /** An attempt's end at the guard: taken back when it worked, summed up when it named nothing. */
  const settle = (c: HonoContext<WebEnv>, outcome: { ok: boolean; anonymous?: boolean }) => {
    const windows = c.get("deps").authFailures.signIn.windows;
    if (outcome.ok) windows.takeBack(c.get("ip"));
    else if (outcome.anonymous)
      windows.unaudited(c.get("ip"), `oidc:${c.req.param("slug")?.slice(0, 40)}`);
  };

  app.get("/sign-in/oidc/:slug", async (c) => {
    const deps = c.get("deps");
    const wait = await throttled(c);
    if (wait) return wait;
    const binding = randomToken();
    const started = await beginOidcSignIn(deps.oidc, c.req.param("slug"), binding, c.get("ip"));
    settle(c, started);
    if (!started.ok) return refused(c, started.message);
    setCookie(c, BINDING_COOKIE, binding, {
      httpOnly: true,
      secure: true,
      sameSite: "Lax",
      path: "/",
      maxAge: 600,
    });
    c.header("Cache-Control", "no-store");
    return c.redirect(started.url, 303);
  });

  app.get("/sign-in/oidc/:slug/callback", async (c) => {
    const deps = c.get("deps");
    const slug = c.req.param("slug");
    const wait = await throttled(c);
    if (wait) return wait;
    // The URL the provider was told to send the browser to, whatever host this request came in on.
    const callbackUrl = new URL(
      `${deps.oidc.clients.redirectUri({ slug })}${new URL(c.req.url).search}`,
    );
    const binding = getCookie(c, BINDING_COOKIE) ?? "";
    deleteCookie(c, BINDING_COOKIE, { path: "/", secure: true });
    const outcome = await completeOidcSignIn(deps.oidc, slug, callbackUrl, binding, c.get("ip"));
    settle(c, outcome);
    if (!outcome.ok) return refused(c, outcome.message);
    const old = c.get("session");
    if (old) await endWebSession(deps.db, old.id);
    const token = await createWebSession(deps.db, deps.clock, {
      userId: outcome.userId,
      stage: outcome.stage,
      ip: c.get("ip"),
      userAgent: c.req.header("user-agent") ?? "",
      oidc: outcome.tokens,
    });
    setSessionCookie(c, token);
    deleteCookie(c, PRE_SESSION_COOKIE, { path: "/", secure: true });
    // Continue from a page of our own: the session cookie is SameSite=Strict, and a redirect would
    // still belong to the provider's cross-site navigation, which does not carry it.
    const next = outcome.stage === "ready" ? "/" : STAGE_PAGES[outcome.stage];
    c.header("Cache-Control", "no-store");
    return c.html(signedInPage(next));
  });

  return app;
}
