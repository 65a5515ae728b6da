/** @jsxImportSource hono/jsx */
// Enrollment: what this gateway is enrolled as (gateway, site, customer), and the import of a new
// bundle in two steps — upload (checked whole, nothing changes) shows what it would enroll the
// gateway as next to what it is now; the operator then imports it or cancels.
import { randomUUID } from "node:crypto";
import { type Context, Hono } from "hono";
import type { Agent } from "../../agent/agent.ts";
import type { Enrollment } from "../../state/store.ts";
import type { UiEnv } from "../session.ts";
import { Card, EnrollmentCard, GatewayIdentity, Notice, Page, PostForm } from "../views.tsx";

export type EnrollmentDeps = {
  agent: Pick<Agent, "enrollment" | "importBundle" | "checkBundle">;
};

type Shown = { kind: "ok" | "error"; text: string } | null;

export function enrollmentRoutes({ agent }: EnrollmentDeps) {
  const routes = new Hono<UiEnv>();
  const page = (c: Context<UiEnv>, notice: Shown, status: 200 | 400 | 413 = 200) => {
    const { csrf } = c.get("session");
    return c.html(
      <Page title="Enrollment" csrf={csrf} nav demo={c.get("demo")}>
        <Card title="Enrollment">
          {notice ? <Notice kind={notice.kind} text={notice.text} /> : null}
          <EnrollmentCard enrollment={agent.enrollment} />
        </Card>
        <Card title="Import an enrollment bundle" level={2}>
          <p class="muted">
            The bundle (*.jws) comes from the platform's gateway page. It is checked whole and shown
            to you before anything changes; a bundle that fails keeps the current enrollment. Files
            dropped into the import directory are read too.
          </p>
          <PostForm action="/enrollment" csrf={csrf} submit="Check the bundle" multipart>
            <label for="bundle">Bundle file</label>
            <input id="bundle" name="bundle" type="file" accept=".jws" required />
          </PostForm>
        </Card>
      </Page>,
      status,
    );
  };

  /** The checked bundle beside the current enrollment, with Import and Cancel. */
  const preview = (c: Context<UiEnv>, next: Enrollment, id: string) => {
    const { csrf } = c.get("session");
    const current = agent.enrollment;
    return c.html(
      <Page title="Enrollment" csrf={csrf} nav demo={c.get("demo")}>
        <Card title="Check before importing">
          <p>
            The bundle is valid. Importing it{" "}
            {current ? "replaces this gateway's enrollment" : "enrolls this gateway"}
            {current ? "; an open remote access ends" : ""}.
          </p>
          <div class="compare">
            {current ? (
              <div>
                <h2>Now</h2>
                <dl>
                  <GatewayIdentity body={current.body} />
                  <dt>Bundle version</dt>
                  <dd>{current.version}</dd>
                </dl>
              </div>
            ) : null}
            <div id="bundle-preview">
              <h2>After import</h2>
              <dl>
                <GatewayIdentity body={next.body} />
                <dt>Bundle version</dt>
                <dd>{next.version}</dd>
              </dl>
            </div>
          </div>
          <div class="buttons">
            <PostForm action="/enrollment/confirm" csrf={csrf} submit="Import this bundle">
              <input type="hidden" name="id" value={id} />
            </PostForm>
            <p>
              <a href="/enrollment">Cancel</a>
            </p>
          </div>
        </Card>
      </Page>,
    );
  };

  routes.get("/enrollment", (c) => page(c, null));
  routes.post("/enrollment", async (c) => {
    const form = await c.req.parseBody();
    const file = form.bundle;
    if (!(file instanceof File) || file.size === 0)
      return page(c, { kind: "error", text: "Choose the bundle file first." }, 400);
    const text = await file.text();
    const checked = await agent.checkBundle(text);
    if (!checked.ok)
      return checked.alreadyInUse
        ? page(c, { kind: "ok", text: `Nothing to do: ${checked.reason}.` })
        : page(
            c,
            { kind: "error", text: `Rejected: ${checked.reason}. Nothing was changed.` },
            400,
          );
    const id = randomUUID();
    c.get("session").pendingBundle = { id, text };
    return preview(c, checked.enrollment, id);
  });
  routes.post("/enrollment/confirm", async (c) => {
    const form = await c.req.parseBody();
    const session = c.get("session");
    const pending = session.pendingBundle;
    session.pendingBundle = undefined;
    if (!pending || pending.id !== form.id)
      return page(
        c,
        { kind: "error", text: "No bundle is waiting to be imported: upload it again." },
        400,
      );
    const result = await agent.importBundle(pending.text, "upload");
    if (!result.ok)
      return page(
        c,
        { kind: "error", text: `Rejected: ${result.reason}. Nothing was changed.` },
        400,
      );
    const { body, version } = result.enrollment;
    const named = body.gatewayName
      ? `${body.gatewayName} at site ${body.siteName ?? "?"} of ${body.customerName ?? "?"}`
      : body.gatewayId;
    return page(c, {
      kind: "ok",
      text: `Imported: this gateway is now ${named} (gateway ${body.gatewayId}, version ${version}).`,
    });
  });
  return routes;
}
