// A workspace's desktop in the browser (Open: noVNC on the relay), and the recordings of such
// connections: the list (audit readers in their scope), a player (noVNC fed from the file), download.
import { Hono } from "hono";
import { hasPermission } from "../../access/index.ts";
import {
  getRecording,
  getWorkspace,
  listRecordings,
  recordingPath,
  sessionPassedSecondFactor,
} from "../../workspaces/index.ts";
import type { WebEnv } from "../env.ts";
import { signedIn } from "../middleware.ts";
import { DataTable, PortalPage, trail } from "../views/components.tsx";

const seconds = (from: Date, to: Date | null) =>
  to ? `${Math.round((to.getTime() - from.getTime()) / 1000)} s` : "connected";

export function workspaceViewerRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/workspaces/:id/open", async (c) => {
    const ctx = c.get("ctx");
    const view = await getWorkspace(ctx, c.req.param("id"));
    const relay = c.get("deps").workspaceRelay;
    // The same checks the relay makes, so the page can say why instead of a dead canvas.
    let refusal: string | null = null;
    if (!relay) refusal = "The browser relay is not running on this platform.";
    else if (!sessionPassedSecondFactor(signedIn(c)))
      refusal = "Opening a workspace needs a sign-in with a second factor.";
    else if (!(await relay.deps.displays.lookup(view.workspace.id)))
      refusal = "The workspace is not running: start it first.";
    else {
      const holder = await relay.viewerOf(view.workspace.id);
      if (holder)
        refusal = `${holder.username} is connected since ${holder.since.toISOString()}; one viewer at a time.`;
    }
    return c.html(
      <PortalPage
        title={`Desktop of ${view.customerName}`}
        csrfToken={c.get("csrfToken")}
        principal={ctx.caller.principal}
        crumbs={trail(
          "Open",
          ["Workspaces", "/workspaces"],
          [view.customerName, `/workspaces/${view.workspace.id}`],
        )}
      >
        {refusal ? (
          <p class="error" role="alert">
            {refusal}
          </p>
        ) : (
          <>
            <p id="vnc-status" role="status">
              Connecting…
            </p>
            <div
              id="vnc-screen"
              class="vnc-screen"
              data-vnc-path={`/workspaces/${view.workspace.id}/vnc`}
            />
            <script type="module" src="/assets/vnc-open.js" />
          </>
        )}
      </PortalPage>,
      refusal ? 409 : 200,
    );
  });

  app.get("/recordings", async (c) => {
    const ctx = c.get("ctx");
    if (!hasPermission(ctx.caller.principal, "audit.read")) return c.notFound();
    const rows = await listRecordings(ctx);
    return c.html(
      <PortalPage
        title="Recordings"
        csrfToken={c.get("csrfToken")}
        principal={ctx.caller.principal}
      >
        <p>
          Every browser connection to a jump workspace, recorded; its SHA-256 is in the connection's
          audit entry (workspace.connect).
        </p>
        <DataTable
          head={["Started", "Customer", "User", "Duration", "SHA-256", ""]}
          rows={rows}
          empty="No recordings."
          row={(r) => (
            <tr>
              <td>{r.startedAt.toISOString().slice(0, 19).replace("T", " ")}</td>
              <td>{r.customerName}</td>
              <td>{`${r.username}${r.sourceIp ? ` from ${r.sourceIp}` : ""}`}</td>
              <td>{seconds(r.startedAt, r.endedAt)}</td>
              <td>
                <code title={r.sha256 ?? ""}>
                  {r.sha256 ? `${r.sha256.slice(0, 12)}…` : "(open)"}
                </code>
              </td>
              <td>
                <a href={`/recordings/${r.id}`}>Play</a> ·{" "}
                <a href={`/recordings/${r.id}/file`}>Download</a>
              </td>
            </tr>
          )}
        />
      </PortalPage>,
    );
  });

  app.get("/recordings/:id", async (c) => {
    const ctx = c.get("ctx");
    const r = await getRecording(ctx, c.req.param("id"));
    return c.html(
      <PortalPage
        title={`Recording: ${r.username} on ${r.customerName}'s workspace`}
        csrfToken={c.get("csrfToken")}
        principal={ctx.caller.principal}
        crumbs={trail(r.startedAt.toISOString(), ["Recordings", "/recordings"])}
      >
        <p>
          From {r.sourceIp ?? "?"}, {seconds(r.startedAt, r.endedAt)}, SHA-256{" "}
          <code class="wrap">{r.sha256 ?? "(still open)"}</code> ·{" "}
          <a href={`/recordings/${r.id}/file`}>Download</a>
        </p>
        <p id="vnc-status" role="status">
          Loading…
        </p>
        <div id="vnc-screen" class="vnc-screen" data-recording={`/recordings/${r.id}/file`} />
        <script type="module" src="/assets/vnc-player.js" />
      </PortalPage>,
    );
  });

  app.get("/recordings/:id/file", async (c) => {
    const ctx = c.get("ctx");
    const r = await getRecording(ctx, c.req.param("id"));
    const relay = c.get("deps").workspaceRelay;
    const file = relay ? Bun.file(recordingPath(relay.deps.recordingsDir, r)) : null;
    if (!file || !(await file.exists())) return c.text("The recording's file is gone.\n", 410);
    c.header("Content-Type", "text/javascript; charset=utf-8");
    c.header("Content-Disposition", `attachment; filename="recording-${r.id}.vncrec.js"`);
    return c.body(await file.arrayBuffer());
  });

  return app;
}
