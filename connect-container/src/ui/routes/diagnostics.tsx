/** @jsxImportSource hono/jsx */
// Diagnostics: the "why can't I connect" report as a page and as a text download for IT.
import { Hono } from "hono";
import type { Agent } from "../../agent/agent.ts";
import { type DiagnosticLine, reportText } from "../../diagnostics/report.ts";
import type { UiEnv } from "../session.ts";
import { Card, DiagnosticsTable, Page } from "../views.tsx";

export interface DiagnosticsDeps {
  agent: Pick<Agent, "enrollment">;
  diagnostics: () => Promise<DiagnosticLine[]>;
}

export function diagnosticsRoutes({ agent, diagnostics }: DiagnosticsDeps) {
  const routes = new Hono<UiEnv>();
  routes.get("/diagnostics", async (c) => {
    const lines = await diagnostics();
    return c.html(
      <Page title="Diagnostics" csrf={c.get("session").csrf} nav>
        <Card title="Diagnostics">
          <p>
            Hand this report to IT:{" "}
            <a href="/diagnostics.txt" hx-boost="false">
              download as text
            </a>
            .
          </p>
          <DiagnosticsTable lines={lines} />
        </Card>
      </Page>,
    );
  });
  routes.get("/diagnostics.txt", async (c) => {
    const lines = await diagnostics();
    c.header("Content-Disposition", 'attachment; filename="meetpoint-gateway-diagnostics.txt"');
    return c.text(
      reportText(lines, new Date(), agent.enrollment?.body.gatewayId ?? "not enrolled"),
    );
  });
  return routes;
}
