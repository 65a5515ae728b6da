/** @jsxImportSource hono/jsx */
// createApp(deps): the gateway's operator UI and local consent API (one Hono app, served over HTTPS
// on the LAN side). Forms work without JavaScript; htmx keeps the status live.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Agent } from "../agent/agent.ts";
import type { EventLog } from "../agent/events.ts";
import { type DiagnosticLine, reportText } from "../diagnostics/report.ts";
import { MAX_BUNDLE_BYTES } from "../enrollment/import.ts";
import { MIN_PASSWORD_LENGTH, type OperatorAuth, type OperatorSession } from "./auth.ts";
import {
  DiagnosticsTable,
  EnrollmentCard,
  EventTable,
  Notice,
  Page,
  StatusPanel,
} from "./views.tsx";

export interface UiDeps {
  agent: Agent;
  auth: OperatorAuth;
  events: EventLog;
  diagnostics: () => Promise<DiagnosticLine[]>;
}

type Env = { Variables: { session: OperatorSession; ip: string } };

const COOKIE = "__Host-meetpoint-operator";

const ASSETS: Record<string, { body: Buffer; type: string }> = {
  "htmx.min.js": {
    body: readFileSync(Bun.resolveSync("htmx.org/dist/htmx.min.js", import.meta.dir)),
    type: "text/javascript",
  },
  "ui.css": {
    body: readFileSync(fileURLToPath(new URL("./assets/ui.css", import.meta.url))),
    type: "text/css",
  },
};

/** The client's address as the server saw it (passed in the env by main.ts, never from a header). */
function clientIp(c: Context): string {
  return (c.env as { clientIp?: string } | undefined)?.clientIp ?? "unknown";
}

export function createUiApp(deps: UiDeps) {
  const app = new Hono<Env>();
  const { agent, auth } = deps;

  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_BUNDLE_BYTES + 4096,
      onError: (c) =>
        c.text(
          `Too large: requests (and enrollment bundles) are at most ${MAX_BUNDLE_BYTES} bytes.`,
          413,
        ),
    }),
  );
  app.use("*", async (c, next) => {
    c.set("ip", clientIp(c));
    await next();
    c.header(
      "Content-Security-Policy",
      "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    );
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("Strict-Transport-Security", "max-age=31536000");
    if (!c.req.path.startsWith("/assets/")) c.header("Cache-Control", "no-store");
  });

  app.get("/favicon.ico", (c) => c.body(null, 204));
  app.get("/healthz", (c) => c.json({ status: "ok", state: agent.status.state }));
  app.get("/assets/:name", (c) => {
    const asset = ASSETS[c.req.param("name")];
    if (!asset) return c.notFound();
    c.header("Content-Type", `${asset.type}; charset=utf-8`);
    c.header("Cache-Control", "public, max-age=3600");
    return c.body(new Uint8Array(asset.body));
  });

  // ---- local consent API (machine HMI, key switch): bearer token, JSON ----------------------
  const local = new Hono<Env>();
  local.use("*", async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    if (!header.startsWith("Bearer ") || !auth.apiTokenValid(header.slice(7))) {
      deps.events.add("warn", "local API: request with a missing or wrong token refused");
      return c.json({ error: { status: 401, message: "missing or wrong API token" } }, 401);
    }
    await next();
  });
  const stateOf = () => ({
    state: agent.status.state,
    tunnelAddress: agent.status.tunnelAddress,
    remoteSessionActive: agent.status.remoteSessions.some((s) => s.state === "active"),
    since: agent.status.since.toISOString(),
    lastError: agent.status.lastError,
    remoteSessions: agent.status.remoteSessions,
    platform: agent.contact
      ? {
          reachable: agent.contact.ok,
          error: agent.contact.error,
          at: agent.contact.at.toISOString(),
        }
      : null,
  });

  local.get("/state", (c) => c.json(stateOf()));
  local.post("/connect", async (c) => {
    const result = await agent.connect("local API");
    return c.json({ ...stateOf(), message: result.message }, result.ok ? 200 : 409);
  });
  local.post("/disconnect", async (c) => {
    await agent.disconnect("local API", null);
    return c.json(stateOf());
  });
  app.route("/api/local/v1", local);

  // ---- operator UI -------------------------------------------------------------------------
  app.get("/sign-in", (c) =>
    c.html(
      <Page title="Sign in">
        <div class="card">
          <h1>Operator sign-in</h1>
          <form method="post" action="/sign-in">
            <label for="password">Password</label>
            <input
              id="password"
              name="password"
              type="password"
              autocomplete="current-password"
              autofocus
            />
            <p>
              <button type="submit">Sign in</button>
            </p>
          </form>
        </div>
      </Page>,
    ),
  );

  app.post("/sign-in", async (c) => {
    const form = await c.req.parseBody();
    const result = await auth.signIn(String(form.password ?? ""), c.get("ip"));
    if (!result.ok) {
      deps.events.add("warn", `operator sign-in failed (${result.message})`);
      if (result.retryAfterSeconds) c.header("Retry-After", String(result.retryAfterSeconds));
      return c.html(
        <Page title="Sign in">
          <div class="card">
            <h1>Operator sign-in</h1>
            <Notice kind="error" text={result.message} />
            <form method="post" action="/sign-in">
              <label for="password">Password</label>
              <input id="password" name="password" type="password" autofocus />
              <p>
                <button type="submit">Sign in</button>
              </p>
            </form>
          </div>
        </Page>,
        result.blocked ? 429 : 401,
      );
    }
    deps.events.add("info", "operator signed in");
    setCookie(c, COOKIE, result.session.id, {
      path: "/",
      secure: true,
      httpOnly: true,
      sameSite: "Strict",
    });
    return c.redirect(result.session.mustChangePassword ? "/password" : "/", 303);
  });

  // Everything below needs a session; every POST its CSRF token.
  app.use("*", async (c, next) => {
    const session = auth.session(getCookie(c, COOKIE));
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
  });

  app.post("/sign-out", (c) => {
    auth.signOut(c.get("session").id);
    deleteCookie(c, COOKIE, { path: "/", secure: true });
    return c.redirect("/sign-in", 303);
  });

  const passwordPage = (c: Context<Env>, error: string | null, status: 200 | 400 = 200) =>
    c.html(
      <Page
        title="Password"
        csrf={c.get("session").csrf}
        nav={!c.get("session").mustChangePassword}
      >
        <div class="card">
          <h1>
            {c.get("session").mustChangePassword ? "Choose your own password" : "Change password"}
          </h1>
          {c.get("session").mustChangePassword ? (
            <p>The initial password must be replaced before the gateway can be used.</p>
          ) : null}
          <Notice kind="error" text={error} />
          <form method="post" action="/password">
            <input type="hidden" name="_csrf" value={c.get("session").csrf} />
            <label for="current">Current password</label>
            <input id="current" name="current" type="password" autocomplete="current-password" />
            <label for="next">New password (at least {MIN_PASSWORD_LENGTH} characters)</label>
            <input id="next" name="next" type="password" autocomplete="new-password" />
            <p>
              <button type="submit">Save</button>
            </p>
          </form>
        </div>
      </Page>,
      status,
    );
  app.get("/password", (c) => passwordPage(c, null));
  app.post("/password", async (c) => {
    const form = await c.req.parseBody();
    const session = c.get("session");
    const error = await auth.changePassword(
      session,
      String(form.current ?? ""),
      String(form.next ?? ""),
    );
    if (error) return passwordPage(c, error, 400);
    deps.events.add("info", "operator password changed");
    setCookie(c, COOKIE, session.id, {
      path: "/",
      secure: true,
      httpOnly: true,
      sameSite: "Strict",
    });
    return c.redirect("/", 303);
  });

  const panel = (c: Context<Env>) => (
    <StatusPanel
      status={agent.status}
      enrolled={agent.enrollment !== null}
      platform={agent.enrollment?.body.platformUrl ?? null}
      csrf={c.get("session").csrf}
    />
  );
  app.get("/", (c) =>
    c.html(
      <Page title="Remote access" csrf={c.get("session").csrf} nav>
        {panel(c)}
      </Page>,
    ),
  );
  app.get("/status", (c) => c.html(panel(c)));
  app.post("/connect", async (c) => {
    await agent.connect("operator UI");
    return c.redirect("/", 303);
  });
  app.post("/disconnect", async (c) => {
    await agent.disconnect("operator UI", null);
    return c.redirect("/", 303);
  });

  const enrollmentPage = (
    c: Context<Env>,
    notice: { kind: "ok" | "error"; text: string } | null,
    status: 200 | 400 | 413 = 200,
  ) =>
    c.html(
      <Page title="Enrollment" csrf={c.get("session").csrf} nav>
        <div class="card">
          <h1>Enrollment</h1>
          {notice ? <Notice kind={notice.kind} text={notice.text} /> : null}
          <EnrollmentCard enrollment={agent.enrollment} />
        </div>
        <div class="card">
          <h2>Import an enrollment bundle</h2>
          <p class="muted">
            The bundle (*.jws) comes from the platform's gateway page. It is checked whole before
            anything changes; a bundle that fails keeps the current enrollment. Files dropped into
            the import directory are read too.
          </p>
          <form method="post" action="/enrollment" enctype="multipart/form-data" hx-boost="false">
            <input type="hidden" name="_csrf" value={c.get("session").csrf} />
            <label for="bundle">Bundle file</label>
            <input id="bundle" name="bundle" type="file" accept=".jws" />
            <p>
              <button type="submit">Import</button>
            </p>
          </form>
        </div>
      </Page>,
      status,
    );
  app.get("/enrollment", (c) => enrollmentPage(c, null));
  app.post("/enrollment", async (c) => {
    const form = await c.req.parseBody();
    const file = form.bundle;
    if (!(file instanceof File) || file.size === 0)
      return enrollmentPage(c, { kind: "error", text: "Choose the bundle file first." }, 400);
    const result = await agent.importBundle(await file.text(), "upload");
    return result.ok
      ? enrollmentPage(c, {
          kind: "ok",
          text: `Imported: gateway ${result.enrollment.body.gatewayId}, version ${result.enrollment.version}.`,
        })
      : enrollmentPage(
          c,
          { kind: "error", text: `Rejected: ${result.reason}. Nothing was changed.` },
          400,
        );
  });

  app.get("/diagnostics", async (c) => {
    const lines = await deps.diagnostics();
    return c.html(
      <Page title="Diagnostics" csrf={c.get("session").csrf} nav>
        <div class="card">
          <h1>Diagnostics</h1>
          <p>
            Hand this report to IT:{" "}
            <a href="/diagnostics.txt" hx-boost="false">
              download as text
            </a>
            .
          </p>
          <DiagnosticsTable lines={lines} />
        </div>
      </Page>,
    );
  });
  app.get("/diagnostics.txt", async (c) => {
    const lines = await deps.diagnostics();
    c.header("Content-Disposition", 'attachment; filename="meetpoint-gateway-diagnostics.txt"');
    return c.text(
      reportText(lines, new Date(), agent.enrollment?.body.gatewayId ?? "not enrolled"),
    );
  });

  app.get("/events", (c) =>
    c.html(
      <Page title="Events" csrf={c.get("session").csrf} nav>
        <div class="card">
          <h1>Events</h1>
          <EventTable events={deps.events.recent()} />
        </div>
      </Page>,
    ),
  );

  const settingsPage = (c: Context<Env>, newToken: string | null) =>
    c.html(
      <Page title="Settings" csrf={c.get("session").csrf} nav>
        <div class="card">
          <h1>Local consent API</h1>
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
          <form method="post" action="/settings/api-token">
            <input type="hidden" name="_csrf" value={c.get("session").csrf} />
            <button type="submit">Create a new token</button>
          </form>
        </div>
        <div class="card">
          <a href="/password">Change the operator password</a>
        </div>
      </Page>,
    );
  app.get("/settings", (c) => settingsPage(c, null));
  app.post("/settings/api-token", (c) => {
    deps.events.add("info", "local API token replaced");
    return settingsPage(c, auth.newApiToken());
  });

  return app;
}
