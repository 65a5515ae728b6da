// /api/v1 administration: users and roles, remote sessions (list, terminate), the audit log (query,
// export), bulk import and the caller's API tokens.
import { createRoute, z } from "@hono/zod-openapi";
import { stream } from "hono/streaming";
import { scopeOf } from "../access/index.ts";
import { exportAudit, listAudit, scopedEntries } from "../audit/index.ts";
import { runImport } from "../bulkimport/index.ts";
import { createUser, getUser, grantRole, listUsers, revokeRole } from "../identity/index.ts";
import { ForbiddenError } from "../shared/index.ts";
import type { ApiApp } from "./app.ts";
import { Deleted, errors, json, needs, wire } from "./respond.ts";
import {
  AuditEntrySchema,
  AuditQuery,
  GrantSchema,
  IdParam,
  ImportReportSchema,
  NewUserSchema,
  SessionSchema,
  TokenSchema,
  UserInput,
  UserSchema,
} from "./schemas.ts";
import { listApiTokens, revokeApiToken } from "./tokens.ts";

const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});

export function adminRoutes(api: ApiApp): void {
  // Users and roles (platform admins)
  api.openapi(
    createRoute({
      method: "get",
      path: "/users",
      ...needs("users.manage"),
      tags: ["users"],
      responses: { 200: json(z.array(UserSchema), "users and their roles"), ...errors(403) },
    }),
    async (c) => c.json(wire(await listUsers(c.get("ctx"))), 200),
  );
  api.openapi(
    createRoute({
      method: "post",
      path: "/users",
      ...needs("users.manage"),
      tags: ["users"],
      request: body(UserInput),
      responses: {
        201: json(NewUserSchema, "created; the one-time password is shown this once"),
        ...errors(400, 403, 409),
      },
    }),
    async (c) => {
      const { user, password } = await createUser(c.get("ctx"), c.req.valid("json"));
      return c.json(wire({ user, oneTimePassword: password }), 201);
    },
  );
  api.openapi(
    createRoute({
      method: "post",
      path: "/users/{id}/roles",
      ...needs("users.manage"),
      tags: ["users"],
      request: { params: IdParam, ...body(GrantSchema) },
      responses: { 201: json(UserSchema, "granted"), ...errors(400, 403, 404, 409) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { role, customerId } = c.req.valid("json");
      await grantRole(c.get("ctx"), id, { role, customerId: customerId ?? undefined });
      return c.json(wire(await getUser(c.get("ctx"), id)), 201);
    },
  );
  api.openapi(
    createRoute({
      method: "delete",
      path: "/users/{id}/roles/{grantId}",
      ...needs("users.manage"),
      tags: ["users"],
      request: {
        params: IdParam.extend({
          grantId: z.uuid().openapi({ param: { name: "grantId", in: "path" } }),
        }),
      },
      responses: { 200: json(Deleted, "revoked"), ...errors(400, 403, 404) },
    }),
    async (c) => {
      const { id, grantId } = c.req.valid("param");
      await revokeRole(c.get("ctx"), id, grantId);
      return c.json({ deleted: true as const }, 200);
    },
  );

  // Remote sessions
  api.openapi(
    createRoute({
      method: "get",
      path: "/sessions",
      tags: ["sessions"],
      request: { query: z.object({ open: z.enum(["true", "false"]).optional() }) },
      responses: { 200: json(z.array(SessionSchema), "newest first, at most 200"), ...errors(400) },
    }),
    async (c) => {
      const open = c.req.valid("query").open === "true";
      return c.json(
        wire(await c.get("api").access.remoteSessions.list(c.get("ctx"), { open })),
        200,
      );
    },
  );
  api.openapi(
    createRoute({
      method: "post",
      path: "/sessions/{id}/terminate",
      ...needs("sessions.manage"),
      tags: ["sessions"],
      request: { params: IdParam },
      responses: {
        200: json(
          SessionSchema,
          "ended: access cut, the gateway's data channel closed (only the operator re-arms)",
        ),
        ...errors(400, 403, 404, 409),
      },
    }),
    async (c) =>
      c.json(
        wire(
          await c
            .get("api")
            .access.remoteSessions.disconnect(c.get("ctx"), c.req.valid("param").id),
        ),
        200,
      ),
  );

  // Audit
  const readerScope = (principal: Parameters<typeof scopeOf>[0]) => {
    const scope = scopeOf(principal, "audit.read");
    if (!scope.all && scope.customerIds.length === 0) throw new ForbiddenError();
    return scope;
  };
  api.openapi(
    createRoute({
      method: "get",
      path: "/audit",
      ...needs("audit.read"),
      tags: ["audit"],
      request: { query: AuditQuery },
      responses: {
        200: json(z.array(AuditEntrySchema), "newest first; page with before=<last seq>"),
        ...errors(400, 403),
      },
    }),
    async (c) => {
      const { limit, ...filter } = c.req.valid("query");
      const ctx = c.get("ctx");
      return c.json(
        wire(await listAudit(ctx.db, readerScope(ctx.caller.principal), filter, limit)),
        200,
      );
    },
  );
  api.openapi(
    createRoute({
      method: "get",
      path: "/audit/export",
      ...needs("audit.read"),
      tags: ["audit"],
      request: {
        query: AuditQuery.omit({ before: true, limit: true }).extend({
          format: z.enum(["jsonl", "csv"]).default("jsonl"),
        }),
      },
      responses: {
        200: {
          description: "every matching entry, oldest first, with hashes",
          content: {
            "application/x-ndjson": { schema: z.string() },
            "text/csv": { schema: z.string() },
          },
        },
        ...errors(400, 403),
      },
    }),
    (c) => {
      const { format, ...filter } = c.req.valid("query");
      const ctx = c.get("ctx");
      const scope = readerScope(ctx.caller.principal);
      c.header(
        "Content-Type",
        format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
      );
      return stream(c, async (out) => {
        for await (const line of exportAudit(scopedEntries(ctx.db, scope, filter), format))
          await out.write(line);
      });
    },
  );

  // Bulk import
  api.openapi(
    createRoute({
      method: "post",
      path: "/import",
      ...needs("masterdata.manage"),
      tags: ["import"],
      request: {
        query: z.object({ dryRun: z.enum(["true", "false"]).optional() }),
        body: {
          content: {
            "text/csv": {
              schema: z.string().openapi({
                example:
                  "customer,site,gateway,machine,lan_address\nACME,North,Hall 1,Press,192.168.0.10\n",
              }),
            },
          },
          required: true,
        },
      },
      responses: {
        200: json(ImportReportSchema, "written (or checked, in a dry run)"),
        422: json(ImportReportSchema, "refused: every problem with its line; nothing written"),
        ...errors(400, 403),
      },
    }),
    async (c) => {
      const report = await runImport(c.get("ctx"), c.get("api").proxyPool, await c.req.text(), {
        dryRun: c.req.valid("query").dryRun === "true",
        source: "api",
      });
      return report.ok ? c.json(wire(report), 200) : c.json(wire(report), 422);
    },
  );

  // The caller's tokens
  api.openapi(
    createRoute({
      method: "get",
      path: "/tokens",
      tags: ["tokens"],
      responses: {
        200: json(
          z.array(TokenSchema),
          "every token, for a token with user administration rights; otherwise this token alone",
        ),
        ...errors(),
      },
    }),
    async (c) =>
      c.json(wire(await listApiTokens(c.get("ctx"), { viaToken: c.get("tokenId") })), 200),
  );
  api.openapi(
    createRoute({
      method: "delete",
      path: "/tokens/{id}",
      tags: ["tokens"],
      description:
        "Revokes this very token; with user administration rights, any token. Other ids answer 404.",
      request: { params: IdParam },
      responses: { 200: json(Deleted, "revoked"), ...errors(400, 404) },
    }),
    async (c) => {
      await revokeApiToken(c.get("ctx"), c.req.valid("param").id, { viaToken: c.get("tokenId") });
      return c.json({ deleted: true as const }, 200);
    },
  );
}
