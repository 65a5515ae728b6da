// Sign-in with a local account: password, then TOTP; forced password change and TOTP enrolment.
import { Hono, type Context as HonoContext } from "hono";
import { deleteCookie } from "hono/cookie";
import type { Principal } from "../../access/index.ts";
import { recordAuditAlone } from "../../audit/index.ts";
import type { SignInStage } from "../../db/index.ts";
import {
  changePassword,
  confirmTotpEnrolment,
  createWebSession,
  enabledProviders,
  endWebSession,
  newTotpKey,
  pendingTotpKey,
  portalPasswordRules,
  providerLogoutUrl,
  qrSvg,
  rotateWebSession,
  signInWithPassword,
  totpKeyForTyping,
  totpUri,
  verifySecondFactor,
} from "../../identity/index.ts";
import type { WebEnv } from "../env.ts";
import { text } from "../forms.ts";
import {
  PRE_SESSION_COOKIE,
  requireStage,
  SESSION_COOKIE,
  STAGE_PAGES,
  setSessionCookie,
  signedIn,
} from "../middleware.ts";
import {
  changePasswordPage,
  enrolTotpPage,
  secondFactorPage,
  signInPage,
} from "../views/sign-in.tsx";

export function signInRoutes() {
  const app = new Hono<WebEnv>();

  const page = async (
    c: HonoContext<WebEnv>,
    options: { error?: string; username?: string; throttled?: boolean } = {},
  ) =>
    signInPage({
      csrfToken: c.get("csrfToken"),
      // A throttled answer costs no database work: the flood it answers must not queue others.
      providers: options.throttled ? [] : await enabledProviders(c.get("deps").db),
      localSignIn: c.get("deps").localSignIn !== false,
      ...options,
    });

  app.get("/sign-in", async (c) => {
    const session = c.get("session");
    if (session)
      return c.redirect(session.stage === "ready" ? "/" : STAGE_PAGES[session.stage], 303);
    return c.html(await page(c));
  });

  app.post("/sign-in", async (c) => {
    const deps = c.get("deps");
    if (deps.localSignIn === false)
      return c.html(await page(c, { error: "Local accounts are switched off here." }), 403);
    const form = await c.req.parseBody();
    const username = text(form, "username");
    // Per source: an attempt counts before its password is checked, so a flood from one address
    // is refused here (429) before it costs any Argon2id work.
    const ip = c.get("ip");
    const guard = deps.authFailures.signIn.windows;
    const wait = guard.attempt(ip);
    if (wait > 0) {
      c.header("Retry-After", String(wait));
      const error = `Too many failed sign-ins from your network address. Try again in ${wait} s.`;
      return c.html(await page(c, { error, username, throttled: true }), 429);
    }
    const result = await signInWithPassword(deps.db, deps.clock, {
      username,
      password: text(form, "password"),
      ip,
    });
    if (result.ok) guard.takeBack(ip);
    else if (result.anonymous) guard.unaudited(ip, username.trim().toLowerCase().slice(0, 64));
    if (!result.ok || !result.userId)
      return c.html(await page(c, { error: result.ok ? "" : result.message, username }), 401);
    const old = c.get("session");
    if (old) await endWebSession(deps.db, old.id);
    const token = await createWebSession(deps.db, deps.clock, {
      userId: result.userId,
      stage: result.stage,
      ip: c.get("ip"),
      userAgent: c.req.header("user-agent") ?? "",
    });
    setSessionCookie(c, token);
    deleteCookie(c, PRE_SESSION_COOKIE, { path: "/", secure: true });
    return c.redirect(result.stage === "ready" ? "/" : STAGE_PAGES[result.stage], 303);
  });

  const totpPage = (csrfToken: string, error?: string) => secondFactorPage({ csrfToken, error });

  app.get("/sign-in/totp", requireStage("totp"), (c) => c.html(totpPage(c.get("csrfToken"))));

  app.post("/sign-in/totp", requireStage("totp"), async (c) => {
    const deps = c.get("deps");
    const session = signedIn(c);
    const form = await c.req.parseBody();
    const result = await verifySecondFactor(deps.db, deps.clock, {
      userId: session.principal.userId,
      code: text(form, "code"),
      actor: c.get("ctx").caller.actor,
    });
    if (!result.ok) return c.html(totpPage(c.get("csrfToken"), result.message), 401);
    return finishStep(c, result.stage);
  });

  async function finishStep(c: HonoContext<WebEnv>, stage: SignInStage) {
    const deps = c.get("deps");
    const token = await rotateWebSession(deps.db, deps.clock, signedIn(c), stage, {
      ip: c.get("ip"),
      userAgent: c.req.header("user-agent") ?? "",
    });
    setSessionCookie(c, token);
    return c.redirect(stage === "ready" ? "/" : STAGE_PAGES[stage], 303);
  }

  const passwordPage = (
    c: HonoContext<WebEnv>,
    forced: boolean,
    error?: { message: string; field?: "current" | "next"; problems?: string[] },
    principal?: Principal,
  ) =>
    changePasswordPage({
      csrfToken: c.get("csrfToken"),
      forced,
      rules: portalPasswordRules(signedIn(c).principal.username),
      error,
      principal,
    });

  app.get("/account/password", requireStage("change_password", "ready"), (c) => {
    const session = signedIn(c);
    return c.html(
      passwordPage(
        c,
        session.stage !== "ready",
        undefined,
        session.stage === "ready" ? session.principal : undefined,
      ),
    );
  });

  app.post("/account/password", requireStage("change_password", "ready"), async (c) => {
    const deps = c.get("deps");
    const session = signedIn(c);
    const form = await c.req.parseBody();
    const result = await changePassword(deps.db, deps.clock, {
      userId: session.principal.userId,
      current: text(form, "current"),
      next: text(form, "next"),
      actor: c.get("ctx").caller.actor,
    });
    if (!result.ok) {
      return c.html(
        passwordPage(
          c,
          session.stage !== "ready",
          result,
          session.stage === "ready" ? session.principal : undefined,
        ),
        400,
      );
    }
    return finishStep(c, result.stage);
  });

  app.get("/account/totp", requireStage("enrol_totp"), async (c) => {
    const deps = c.get("deps");
    const session = signedIn(c);
    const key = await pendingTotpKey(deps.db, session.principal.userId, newTotpKey);
    return c.html(enrolPage(c.get("csrfToken"), key, session.principal.username));
  });

  const enrolPage = (csrfToken: string, key: string, username: string, error?: string) =>
    enrolTotpPage({
      csrfToken,
      qrSvg: qrSvg(totpUri(key, username)),
      keyForTyping: totpKeyForTyping(key),
      error,
    });

  app.post("/account/totp", requireStage("enrol_totp"), async (c) => {
    const deps = c.get("deps");
    const session = signedIn(c);
    const form = await c.req.parseBody();
    const result = await confirmTotpEnrolment(deps.db, deps.clock, {
      userId: session.principal.userId,
      code: text(form, "code"),
      actor: c.get("ctx").caller.actor,
    });
    if (!result.ok) {
      const key = await pendingTotpKey(deps.db, session.principal.userId, newTotpKey);
      return c.html(
        enrolPage(c.get("csrfToken"), key, session.principal.username, result.message),
        400,
      );
    }
    return finishStep(c, result.stage);
  });

  app.post("/sign-out", async (c) => {
    const deps = c.get("deps");
    const session = c.get("session");
    const providerLogout = session ? await providerLogoutUrl(deps.oidc, session) : null;
    if (session) {
      await endWebSession(deps.db, session.id);
      await recordAuditAlone(deps.db, deps.clock, {
        actor: c.get("ctx").caller.actor,
        action: "sign_out",
        target: { type: "user", id: session.principal.userId },
      });
    }
    deleteCookie(c, SESSION_COOKIE, { path: "/", secure: true });
    // The browser drops what it may still hold of the portal: its cache (back/forward cache too)
    // and its storage (htmx's sessionStorage); the W3C Clear Site Data header.
    c.header("Clear-Site-Data", '"cache", "storage"');
    if (providerLogout) {
      // Sign out at the provider too; htmx must leave the page for another origin itself.
      if (c.req.header("hx-request")) {
        c.header("HX-Redirect", providerLogout);
        return c.body(null, 204);
      }
      return c.redirect(providerLogout, 303);
    }
    return c.redirect("/sign-in", 303);
  });

  return app;
}
