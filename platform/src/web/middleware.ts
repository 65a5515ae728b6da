// Request plumbing: client address, security headers, session loading, CSRF, sign-in gating.
import type { Context as HonoContext, MiddlewareHandler } from "hono";
import { getConnInfo } from "hono/bun";
import { getCookie, setCookie } from "hono/cookie";
import { secureHeaders } from "hono/secure-headers";
import { recordAuditAlone } from "../audit/index.ts";
import type { SignInStage } from "../db/index.ts";
import {
  endWebSession,
  keepOidcSessionAlive,
  loadWebSession,
  randomToken,
  type WebSession,
} from "../identity/index.ts";
import { ForbiddenError } from "../shared/index.ts";
import type { WebEnv } from "./env.ts";

export const SESSION_COOKIE = "__Host-meetpoint";
export const PRE_SESSION_COOKIE = "__Host-meetpoint-pre";

export const securityHeaders = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", "data:"],
    connectSrc: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
    objectSrc: ["'none'"],
  },
  strictTransportSecurity: "max-age=31536000; includeSubDomains",
  xFrameOptions: "DENY",
  referrerPolicy: "same-origin",
  crossOriginResourcePolicy: "same-origin",
});

/**
 * What a browser may keep of an answer: nothing, except the static assets. Portal pages hold
 * customers' data and secrets; with no-store neither the HTTP cache nor the back/forward cache
 * shows them again after sign-out. A POST answered without a redirect (a refusal shown in place)
 * leaves the address as it was (HX-Push-Url: false): the address bar only ever holds a GET that can
 * be reloaded.
 */
export const noStore: MiddlewareHandler<WebEnv> = async (c, next) => {
  await next();
  if (!c.req.path.startsWith("/assets/")) c.header("Cache-Control", "no-store");
  const redirected = c.res.status >= 300 && c.res.status < 400;
  if (c.req.method === "POST" && c.req.header("hx-request") && !redirected)
    c.header("HX-Push-Url", "false");
};

/** The client's address as the server saw it (proxies' headers are not trusted). */
export const clientAddress: MiddlewareHandler<WebEnv> = async (c, next) => {
  let ip = "unknown";
  try {
    ip = getConnInfo(c).remote.address ?? "unknown";
  } catch {
    // app.request() in tests has no socket.
  }
  c.set("ip", ip);
  await next();
};

export function setSessionCookie(c: HonoContext<WebEnv>, token: string): void {
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    secure: true,
    sameSite: "Strict",
    path: "/",
  });
}

/** Loads the session behind the cookie, if any, and the CSRF token forms must carry. */
export const loadSession: MiddlewareHandler<WebEnv> = async (c, next) => {
  const deps = c.get("deps");
  const token = getCookie(c, SESSION_COOKIE);
  let session = token ? await loadWebSession(deps.db, deps.clock, deps.session, token) : null;
  // A provider's sign-in lasts only while the provider renews it (its access tokens are short).
  if (session?.oidc && !(await keepOidcSessionAlive(deps.oidc, session))) {
    await endWebSession(deps.db, session.id);
    await recordAuditAlone(deps.db, deps.clock, {
      actor: { id: session.principal.userId, name: session.principal.username, ip: c.get("ip") },
      action: "sign_out",
      target: { type: "user", id: session.principal.userId },
      detail: { reason: "the identity provider no longer renews the sign-in" },
    });
    session = null;
  }
  c.set("session", session);
  if (session) {
    c.set("csrfToken", session.csrfToken);
    c.set("ctx", {
      db: deps.db,
      clock: deps.clock,
      caller: {
        principal: session.principal,
        actor: { id: session.principal.userId, name: session.principal.username, ip: c.get("ip") },
      },
    });
  } else {
    // Before sign-in, forms are bound to a random cookie instead (double submit).
    let pre = getCookie(c, PRE_SESSION_COOKIE);
    if (!pre || pre.length < 40) {
      pre = randomToken();
      setCookie(c, PRE_SESSION_COOKIE, pre, {
        httpOnly: true,
        secure: true,
        sameSite: "Strict",
        path: "/",
      });
    }
    c.set("csrfToken", pre);
  }
  await next();
};

function sameToken(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && crypto.timingSafeEqual(left, right);
}

/** Every state-changing request must carry the session's CSRF token (form field or header). */
export const requireCsrf: MiddlewareHandler<WebEnv> = async (c, next) => {
  if (c.req.method !== "GET" && c.req.method !== "HEAD") {
    let sent = c.req.header("x-csrf-token") ?? "";
    if (!sent && (c.req.header("content-type") ?? "").match(/form/)) {
      const body = await c.req.parseBody();
      sent = typeof body._csrf === "string" ? body._csrf : "";
    }
    if (!sent || !sameToken(sent, c.get("csrfToken"))) {
      throw new ForbiddenError(
        "This form has expired or did not come from this portal. Reload the page and try again.",
      );
    }
  }
  await next();
};

const STAGE_PAGES: Record<Exclude<SignInStage, "ready">, string> = {
  totp: "/sign-in/totp",
  change_password: "/account/password",
  enrol_totp: "/account/totp",
};

function redirect(c: HonoContext<WebEnv>, to: string) {
  if (c.req.header("hx-request")) {
    c.header("HX-Redirect", to);
    return c.body(null, 401);
  }
  return c.redirect(to, 303);
}

/** Lets the request through only at one of `stages`; sends everyone else where they belong. */
export function requireStage(...stages: SignInStage[]): MiddlewareHandler<WebEnv> {
  return async (c, next) => {
    const session = c.get("session");
    if (!session) return redirect(c, "/sign-in");
    if (!stages.includes(session.stage)) {
      return redirect(c, session.stage === "ready" ? "/" : STAGE_PAGES[session.stage]);
    }
    await next();
  };
}

/** The session of a request that passed requireStage. */
export function signedIn(c: HonoContext<WebEnv>): WebSession {
  const session = c.get("session");
  if (!session) throw new Error("signedIn() used on a route without requireStage()");
  return session;
}

export { STAGE_PAGES };
