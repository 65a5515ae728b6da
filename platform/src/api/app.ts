// The admin JSON API (/api/v1): the portal's admin operations for programs, described by an
// OpenAPI document generated from the same zod schemas that validate the requests
// (@hono/zod-openapi). Bearer API tokens only — no cookies, so no CSRF; every use is audited, and
// the same scope rules as the portal apply (foreign ids 404, rights beyond the token 403).
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context as HonoContext } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Context } from "../access/index.ts";
import { type FailureGuard, recordAuditAlone } from "../audit/index.ts";
import { MAX_IMPORT_BYTES } from "../bulkimport/index.ts";
import type { Db } from "../db/index.ts";
import type { ProxyPool } from "../masterdata/index.ts";
import type { RemoteAccess } from "../sessions/index.ts";
import { type Clock, inputLayer } from "../shared/index.ts";
import { adminRoutes } from "./routes-admin.ts";
import { masterDataRoutes } from "./routes-masterdata.ts";
import { checkApiToken } from "./tokens.ts";

export interface ApiDeps {
  db: Db;
  clock: Clock;
  proxyPool: ProxyPool;
  access: Pick<RemoteAccess, "remoteSessions">;
  /** Requests without a valid token: throttled per source, unknown ones audited in aggregate. */
  failures: FailureGuard;
}

export interface ApiEnv {
  /** `tokenId`: the API token the request came with. */
  Variables: { ip: string; ctx: Context; api: ApiDeps; tokenId: string };
}

export type ApiApp = OpenAPIHono<ApiEnv>;

/** 400 with the first problem, in the API's error shape. */
function validationError(field: string, message: string, c: HonoContext) {
  return c.json(
    { error: { status: 400, code: "ERR_VALIDATION", message: `${field}: ${message}`, field } },
    400,
  );
}

export const OPENAPI_INFO = {
  openapi: "3.1.0",
  info: {
    title: "Meetpoint admin API",
    version: "1",
    description:
      "Customers, sites, gateways, machines, services, users and roles, remote sessions, audit, bulk import. Authenticate with an API token: `Authorization: Bearer mpt_…`.",
  },
  // Paths below are relative to this: a generated client calls https://<host>/api/v1/customers.
  servers: [{ url: "/api/v1", description: "this platform's admin API" }],
  security: [{ token: [] }],
};

/** The API's routes alone (no authentication): what the OpenAPI document describes. */
export function apiRoutes(): ApiApp {
  const api = new OpenAPIHono<ApiEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const issue = result.error.issues[0];
      return validationError(issue?.path.join(".") || "body", issue?.message ?? "invalid", c);
    },
  });
  api.openAPIRegistry.registerComponent("securitySchemes", "token", {
    type: "http",
    scheme: "bearer",
    description: "An API token (mpt_…), made under Account → API tokens in the portal.",
  });
  masterDataRoutes(api);
  adminRoutes(api);
  return api;
}

/** The OpenAPI document of the API. */
export function openApiDocument() {
  return apiRoutes().getOpenAPI31Document(OPENAPI_INFO);
}

/** /api/v1: the document (public), then every other route behind a token. */
export function adminApi(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();
  const document = openApiDocument();
  app.get("/openapi.json", (c) => c.json(document));
  app.use("*", async (c, next) => {
    // The scheme's name is case-insensitive (RFC 9110 §11.1): "bearer" counts as "Bearer".
    const bearer = /^bearer +(.+)$/i.exec(c.req.header("authorization") ?? "")?.[1]?.trim() ?? null;
    const check = await checkApiToken(deps.db, deps.clock, bearer);
    const ip = c.get("ip") ?? "unknown";
    if (!check.ok) {
      const windows = deps.failures.windows;
      const wait = windows.attempt(ip);
      if (wait > 0) {
        c.header("Retry-After", String(wait));
        return c.json(
          {
            error: {
              status: 429,
              code: "ERR_THROTTLED",
              message: `too many requests without a valid token from this address: try again in ${wait} s`,
              field: null,
            },
          },
          429,
        );
      }
      // No token or an unknown one names nobody: audited in aggregate per source and interval.
      // A token that exists (expired, revoked, of a disabled user) is audited one by one.
      if (!check.token) windows.unaudited(ip, `${c.req.method} ${c.req.path}`.slice(0, 120));
      else
        await recordAuditAlone(deps.db, deps.clock, {
          actor: { id: check.token.userId, name: `token ${check.token.name}`, ip },
          action: "api_token.use",
          target: { type: "api_token", id: check.token.id },
          result: "denied",
          detail: { reason: check.reason, method: c.req.method, path: c.req.path },
        });
      c.header("WWW-Authenticate", 'Bearer realm="meetpoint"');
      const message =
        check.reason === "missing"
          ? "an API token is required (Authorization: Bearer mpt_…)"
          : `the API token is ${check.reason === "owner disabled" ? "of a disabled user" : check.reason}`;
      return c.json({ error: { status: 401, code: "ERR_TOKEN", message, field: null } }, 401);
    }
    const actor = { id: check.principal.userId, name: check.actorName, ip };
    c.set("api", deps);
    c.set("tokenId", check.token.id);
    c.set("ctx", { db: deps.db, clock: deps.clock, caller: { principal: check.principal, actor } });
    await next();
    await recordAuditAlone(deps.db, deps.clock, {
      actor,
      action: "api_token.use",
      target: { type: "api_token", id: check.token.id },
      result: c.res.status < 400 ? "ok" : "denied",
      detail: { method: c.req.method, path: c.req.path, status: c.res.status },
    });
  });
  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_IMPORT_BYTES,
      onError: (c) =>
        c.json(
          {
            error: {
              status: 413,
              code: "ERR_HTTP_413",
              message: "The request is larger than allowed.",
              field: null,
            },
          },
          413,
        ),
    }),
    // Control characters, lone surrogates, malformed JSON: 400 naming the field (errors go to
    // the app's one onError, which answers /api/ paths in JSON).
    inputLayer,
  );
  app.route("/", apiRoutes());
  // Anything else answers in the API's terms: 405 with Allow on a known path, else 404 — never
  // falling through to the portal (whose answer would be about forms and CSRF).
  const known = Object.entries(document.paths ?? {}).map(([path, item]) => ({
    pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, "[^/]+")}$`),
    methods: Object.keys(item ?? {})
      .filter((m) => ["get", "post", "put", "patch", "delete"].includes(m))
      .map((m) => m.toUpperCase()),
  }));
  app.all("*", (c) => {
    const path = c.req.path.replace(/^\/api\/v1/, "") || "/";
    const methods = known.filter((k) => k.pattern.test(path)).flatMap((k) => k.methods);
    if (methods.length === 0)
      return c.json(
        {
          error: {
            status: 404,
            code: "ERR_NOT_FOUND",
            message: `no API operation at ${c.req.path} (see /api/v1/openapi.json)`,
            field: null,
          },
        },
        404,
      );
    const allow = [...new Set(methods.includes("GET") ? [...methods, "HEAD"] : methods)].join(", ");
    c.header("Allow", allow);
    return c.json(
      {
        error: {
          status: 405,
          code: "ERR_METHOD_NOT_ALLOWED",
          message: `${c.req.method} is not an operation of ${c.req.path}; it allows ${allow}`,
          field: null,
        },
      },
      405,
    );
  });
  return app;
}
