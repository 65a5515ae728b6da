/** @jsxImportSource hono/jsx */
// Enrollment: what this gateway is enrolled as, and the upload of a new enrollment bundle.
import { type Context, Hono } from "hono";
import type { Agent } from "../../agent/agent.ts";
import type { UiEnv } from "../session.ts";
import { Card, EnrollmentCard, Notice, Page, PostForm } from "../views.tsx";

export type EnrollmentDeps = { agent: Pick<Agent, "enrollment" | "importBundle"> };

export function enrollmentRoutes({ agent }: EnrollmentDeps) {
  const routes = new Hono<UiEnv>();
  const page = (
    c: Context<UiEnv>,
    notice: { kind: "ok" | "error"; text: string } | null,
    status: 200 | 400 | 413 = 200,
  ) => {
    const { csrf } = c.get("session");
    return c.html(
      <Page title="Enrollment" csrf={csrf} nav>
        <Card title="Enrollment">
          {notice ? <Notice kind={notice.kind} text={notice.text} /> : null}
          <EnrollmentCard enrollment={agent.enrollment} />
        </Card>
        <Card title="Import an enrollment bundle" level={2}>
          <p class="muted">
            The bundle (*.jws) comes from the platform's gateway page. It is checked whole before
            anything changes; a bundle that fails keeps the current enrollment. Files dropped into
            the import directory are read too.
          </p>
          <PostForm action="/enrollment" csrf={csrf} submit="Import" multipart>
            <label for="bundle">Bundle file</label>
            <input id="bundle" name="bundle" type="file" accept=".jws" />
          </PostForm>
        </Card>
      </Page>,
      status,
    );
  };
  routes.get("/enrollment", (c) => page(c, null));
  routes.post("/enrollment", async (c) => {
    const form = await c.req.parseBody();
    const file = form.bundle;
    if (!(file instanceof File) || file.size === 0)
      return page(c, { kind: "error", text: "Choose the bundle file first." }, 400);
    const result = await agent.importBundle(await file.text(), "upload");
    return result.ok
      ? page(c, {
          kind: "ok",
          text: `Imported: gateway ${result.enrollment.body.gatewayId}, version ${result.enrollment.version}.`,
        })
      : page(c, { kind: "error", text: `Rejected: ${result.reason}. Nothing was changed.` }, 400);
  });
  return routes;
}
