// createUiApp(deps): the gateway's operator UI and local consent API, one Hono app served over HTTPS
// on the LAN side, composed of the areas in ./routes and ./local-api.ts. Forms work without
// JavaScript; htmx keeps the status live.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import type { Agent } from "../agent/agent.ts";
import type { EventLog } from "../agent/events.ts";
import type { ProxySetting } from "../agent/proxy-setting.ts";
import type { DiagnosticLine, DiagnosticsProgress } from "../diagnostics/report.ts";
import { MAX_BUNDLE_BYTES } from "../enrollment/import.ts";
import type { OperatorAuth } from "./auth.ts";
import { DiagnosticsRuns } from "./diagnostics-runs.ts";
import { readForms } from "./forms.ts";
import { localApi } from "./local-api.ts";
import { diagnosticsRoutes } from "./routes/diagnostics.tsx";
import { enrollmentRoutes } from "./routes/enrollment.tsx";
import { eventsRoutes } from "./routes/events.tsx";
import { passwordRoutes } from "./routes/password.tsx";
import { proxyRoutes } from "./routes/proxy.tsx";
import { settingsRoutes } from "./routes/settings.tsx";
import { signInRoutes, signOutRoutes } from "./routes/sign-in.tsx";
import { sshRoutes } from "./routes/ssh.tsx";
import { statusRoutes } from "./routes/status.tsx";
import { windowsRoutes } from "./routes/windows.tsx";
import { requireOperator, type UiEnv } from "./session.ts";

export interface UiDeps {
  agent: Agent;
  auth: OperatorAuth;
  events: EventLog;
  /** Runs the diagnostics, reporting each check as it ends. */
  diagnostics: (progress?: DiagnosticsProgress) => Promise<DiagnosticLine[]>;
  /** The plant's HTTP proxy; without it the Proxy page is not offered. */
  proxy?: ProxySetting;
  /** The firewall only records (MEETPOINT_FIREWALL=dry-run): every page says it protects nothing. */
  demo?: boolean;
}

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

export function createUiApp(deps: UiDeps) {
  const app = new Hono<UiEnv>();
  const runs = new DiagnosticsRuns((progress) => deps.diagnostics(progress));

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
  app.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
      },
      strictTransportSecurity: "max-age=31536000",
      xFrameOptions: "DENY",
    }),
  );
  app.use("*", async (c, next) => {
    await next();
    if (!c.req.path.startsWith("/assets/")) c.header("Cache-Control", "no-store");
  });
  app.use("*", readForms);
  app.use("*", async (c, next) => {
    c.set("demo", deps.demo === true);
    await next();
  });

  app.get("/favicon.ico", (c) => c.body(null, 204));
  app.get("/healthz", (c) =>
    c.json({ status: "ok", state: deps.agent.status.state, demo: deps.demo === true }),
  );
  app.get("/assets/:name", (c) => {
    const asset = ASSETS[c.req.param("name")];
    if (!asset) return c.notFound();
    c.header("Content-Type", `${asset.type}; charset=utf-8`);
    c.header("Cache-Control", "public, max-age=3600");
    return c.body(new Uint8Array(asset.body));
  });

  app.route("/api/local/v1", localApi(deps));
  app.route("/", signInRoutes(deps));
  // Everything below needs a signed-in operator; every POST its CSRF token.
  app.use("*", requireOperator(deps.auth));
  for (const area of [
    signOutRoutes(deps),
    passwordRoutes(deps),
    statusRoutes(deps),
    enrollmentRoutes(deps),
    diagnosticsRoutes({ agent: deps.agent, runs }),
    eventsRoutes(deps),
    settingsRoutes(deps),
    sshRoutes(deps),
    windowsRoutes(deps),
  ])
    app.route("/", area);
  if (deps.proxy) app.route("/", proxyRoutes({ agent: deps.agent, proxy: deps.proxy }));
  return app;
}
