// POST /api/workspace/v1/report: a workspace supervisor's state (common's WorkspaceReport), with the
// run's bearer token. 401 for a wrong or stopped run's token, 400 naming the invalid field, 413 over
// 4 KiB. Before the portal's middleware: no session, no CSRF (the token is the credential).
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { isDomainError } from "../../shared/index.ts";
import { acceptReport, REPORT_MAX_BYTES } from "../../workspaces/index.ts";
import type { WebEnv } from "../env.ts";

const problem = (status: 400 | 401 | 413, message: string) =>
  Response.json({ error: { status, message } }, { status });

export function workspaceReportApi() {
  const app = new Hono<WebEnv>();
  app.post(
    "/report",
    bodyLimit({
      maxSize: REPORT_MAX_BYTES,
      onError: () => problem(413, `a report is at most ${REPORT_MAX_BYTES} bytes`),
    }),
    async (c) => {
      const token = /^Bearer (\S+)$/.exec(c.req.header("authorization") ?? "")?.[1] ?? "";
      let body: unknown;
      try {
        body = JSON.parse(await c.req.text());
      } catch {
        body = undefined;
      }
      const { db, clock } = c.get("deps");
      try {
        const ok = await acceptReport(db, clock, token, body, c.get("ip") ?? null);
        if (!ok) {
          c.header("WWW-Authenticate", 'Bearer realm="workspace report"');
          return problem(401, "the token belongs to no running workspace");
        }
      } catch (error) {
        if (isDomainError(error) && error.status === 400)
          return problem(400, `${error.field ?? "body"}: ${error.message}`);
        throw error;
      }
      return c.body(null, 204);
    },
  );
  return app;
}
