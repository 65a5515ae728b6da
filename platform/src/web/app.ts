// createApp(deps): the platform's HTTP application — portal, health check, assets.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { adminApi } from "../api/index.ts";
import { metricsVerdict } from "../metrics/index.ts";
import { auditPublicKey } from "../retention/index.ts";
import { inputLayer, NotFoundError } from "../shared/index.ts";

import { assetRoutes } from "./assets.ts";
import type { AppDeps, WebEnv } from "./env.ts";
import { errorResponse } from "./errors.tsx";
import { gatewayApi } from "./gateway-api.ts";
import {
  clientAddress,
  loadSession,
  noStore,
  requireCsrf,
  requireStage,
  securityHeaders,
} from "./middleware.ts";
import { alertRoutes } from "./routes/alerts.tsx";
import { apiTokenRoutes } from "./routes/api-tokens.tsx";
import { auditRoutes } from "./routes/audit.tsx";
import { customerRoutes } from "./routes/customers.tsx";
import { gatewaySettingsRoutes } from "./routes/gateway-settings.tsx";
import { gatewayRoutes } from "./routes/gateways.tsx";
import { helpRoutes } from "./routes/help.tsx";
import { identityProviderRoutes } from "./routes/identity-providers.tsx";
import { machineRoutes } from "./routes/machines.tsx";
import { oidcSignInRoutes } from "./routes/oidc-sign-in.tsx";
import { onceRoutes } from "./routes/once.tsx";
import { pkiRoutes } from "./routes/pki.tsx";
import { reportRoutes } from "./routes/reports.tsx";
import { requestRoutes } from "./routes/requests.tsx";
import { sessionRoutes } from "./routes/sessions.tsx";
import { signInRoutes } from "./routes/sign-in.tsx";
import { statusRoutes } from "./routes/status.tsx";
import { userRoutes } from "./routes/users.tsx";
import { windowRoutes } from "./routes/windows.tsx";
import { workspaceRelayRoutes } from "./routes/workspace-relay.ts";
import { workspaceReportApi } from "./routes/workspace-report.ts";
import { workspaceTemplateRoutes } from "./routes/workspace-templates.tsx";
import { workspaceViewerRoutes } from "./routes/workspace-viewer.tsx";
import { workspaceRoutes } from "./routes/workspaces.tsx";
import { workstationRoutes } from "./routes/workstations.tsx";

/** Largest request body the portal accepts (forms only): 64 KiB. */
export const MAX_FORM_BYTES = 64 * 1024;

export function createApp(deps: AppDeps) {
  const app = new Hono<WebEnv>();

  app.onError((error, c) => errorResponse(error, c));
  app.notFound((c) => errorResponse(new NotFoundError("Page"), c));

  app.use("*", securityHeaders, noStore, clientAddress, async (c, next) => {
    c.set("deps", deps);
    await next();
  });

  app.get("/healthz", async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json({ status: "ok" });
  });
  app.route("/assets", assetRoutes());
  // The public half of the audit signing key (checkpoints, exported heads, transparency reports),
  // for verifying offline: no sign-in, nothing secret.
  app.get("/pki/signing-key.jwk", async (c) => {
    // Read as stored: an anonymous request never unseals or makes a key.
    const key = await auditPublicKey(deps.db);
    if (!key) throw new NotFoundError("Signing key (the platform has signed nothing yet)");
    const { kid, publicJwk } = key;
    c.header("Cache-Control", "no-store");
    return c.body(
      `${JSON.stringify({ ...publicJwk, kid, alg: "ES256", use: "sig" }, null, 2)}\n`,
      200,
      {
        "Content-Type": "application/jwk+json",
      },
    );
  });
  // Prometheus: a bearer token or a configured network; neither configured, no such page.
  app.get("/metrics", async (c) => {
    const metrics = deps.metrics;
    const verdict = metrics
      ? metricsVerdict(metrics.access, c.get("ip"), c.req.header("authorization") ?? null)
      : "off";
    if (!metrics || verdict === "off") throw new NotFoundError("Page");
    if (verdict === "unauthorized") {
      c.header("WWW-Authenticate", 'Bearer realm="metrics"');
      return c.text("metrics need the bearer token or an allowed network\n", 401);
    }
    const { contentType, body } = await metrics.collector.text();
    c.header("Cache-Control", "no-store");
    return c.body(body, 200, { "Content-Type": contentType });
  });
  if (deps.metrics) app.use("/api/gateway/v1/*", deps.metrics.collector.timeGatewayApi);
  app.route("/api/gateway/v1", gatewayApi(deps.gatewayApiShedder));
  // The admin API: bearer API tokens only (no cookies, so no CSRF), before the portal's sessions.
  app.route(
    "/api/v1",
    adminApi({
      db: deps.db,
      clock: deps.clock,
      proxyPool: deps.proxyPool,
      access: deps.access,
      failures: deps.authFailures.apiToken,
    }) as never,
  );

  // Workspace supervisors' reports: the run's bearer token, no cookies.
  app.route("/api/workspace/v1", workspaceReportApi());

  // The portal speaks GET and POST (forms, htmx) only: anything else is 405, not a CSRF refusal.
  app.use("*", async (c, next) => {
    if (["GET", "HEAD", "POST"].includes(c.req.method)) return next();
    c.header("Allow", "GET, HEAD, POST");
    throw new HTTPException(405, { message: `${c.req.method} is not used here.` });
  });
  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_FORM_BYTES,
      onError: () => {
        throw new HTTPException(413, { message: "The request is larger than allowed." });
      },
    }),
    // The session first, so even an input error's page is drawn for the signed-in user.
    loadSession,
    inputLayer,
    requireCsrf,
  );

  app.route("/", signInRoutes());
  app.route("/", oidcSignInRoutes());
  // Before the portal's sign-in gate: a WebSocket's refusals are statuses, not redirects.
  app.route("/", workspaceRelayRoutes());

  const portal = new Hono<WebEnv>();
  portal.use("*", requireStage("ready"));
  portal.route("/", machineRoutes());
  portal.route("/", customerRoutes());
  portal.route("/", gatewayRoutes());
  portal.route("/", gatewaySettingsRoutes());
  portal.route("/", userRoutes());
  portal.route("/", identityProviderRoutes());
  portal.route("/", auditRoutes());
  portal.route("/", pkiRoutes());
  portal.route("/", sessionRoutes());
  portal.route("/", reportRoutes());
  portal.route("/", requestRoutes());
  portal.route("/", windowRoutes());
  portal.route("/", statusRoutes());
  portal.route("/", onceRoutes());
  portal.route("/", workstationRoutes());
  portal.route("/", workspaceTemplateRoutes());
  portal.route("/", workspaceRoutes());
  portal.route("/", workspaceViewerRoutes());
  portal.route("/", helpRoutes());
  portal.route("/", apiTokenRoutes({ maxDays: deps.apiTokenMaxDays ?? 365 }));
  portal.route(
    "/",
    alertRoutes({
      allowPrivate: deps.webhookAllowPrivate ?? false,
      emailConfigured: deps.emailConfigured ?? false,
    }),
  );
  app.route("/", portal);

  return app;
}

export type App = ReturnType<typeof createApp>;
