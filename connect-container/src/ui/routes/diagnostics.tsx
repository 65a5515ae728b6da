/** @jsxImportSource hono/jsx */
// Diagnostics: the "why can't I connect" report as a page that answers at once and shows each
// check as it ends (the run goes on in the background), and as a text download for IT.
import { Hono } from "hono";
import type { Agent } from "../../agent/agent.ts";
import { reportText } from "../../diagnostics/report.ts";
import type { DiagnosticsRuns } from "../diagnostics-runs.ts";
import { DiagnosticsLive } from "../diagnostics-view.tsx";
import type { UiEnv } from "../session.ts";
import { Card, Page } from "../views.tsx";

export interface DiagnosticsDeps {
  agent: Pick<Agent, "enrollment">;
  runs: DiagnosticsRuns;
}

export function diagnosticsRoutes({ agent, runs }: DiagnosticsDeps) {
  const routes = new Hono<UiEnv>();
  routes.get("/diagnostics", async (c) => {
    const run = c.req.query("again") ? runs.start() : runs.fresh();
    // Without htmx nothing polls: ?wait=1 answers once the checks are done.
    if (c.req.query("wait")) await run.finished;
    return c.html(
      <Page title="Diagnostics" csrf={c.get("session").csrf} nav demo={c.get("demo")}>
        <Card title="Diagnostics">
          <p>
            Hand this report to IT:{" "}
            <a href="/diagnostics.txt" hx-boost="false">
              download as text
            </a>
            .{" "}
            <noscript>
              Without script, <a href="/diagnostics?wait=1">wait for the result</a>.
            </noscript>
          </p>
          <DiagnosticsLive run={run} />
        </Card>
      </Page>,
    );
  });
  routes.get("/diagnostics/progress", (c) => {
    const run = runs.last ?? runs.fresh();
    return c.html(<DiagnosticsLive run={run} />);
  });
  routes.get("/diagnostics.txt", async (c) => {
    const run = runs.fresh();
    const lines = await run.finished;
    c.header("Content-Disposition", 'attachment; filename="meetpoint-gateway-diagnostics.txt"');
    return c.text(
      reportText(lines, run.startedAt, agent.enrollment?.body.gatewayId ?? "not enrolled"),
    );
  });
  return routes;
}
