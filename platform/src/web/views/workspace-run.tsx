// A workspace's run on its page: state, the start's progress (polled every second while it runs),
// VPN state, who is connected, and Start / Open / Stop.
import type { FC } from "hono/jsx";
import { reportOverdueSince, type ViewerHold, type WorkspaceRun } from "../../workspaces/index.ts";
import { ActionButton } from "./components.tsx";

const STATE_WORDS: Record<WorkspaceRun["state"], string> = {
  creating_network: "starting: creating the network",
  starting: "starting: creating the container",
  waiting_desktop: "starting: waiting for the desktop",
  running: "running",
  stopped: "stopped",
  failed: "start failed",
};
const REASON_WORDS: Record<string, string> = {
  manual: "stopped by hand",
  idle: "stopped after the idle timeout",
  template_change: "stopped because its template changed",
  settings_change:
    "stopped because its profile or allow-list changed: they apply from the next start",
  exited: "ended by itself (its container stopped: see the platform's log and the last report)",
};

export const RunPanel: FC<{
  workspaceId: string;
  run: WorkspaceRun | null;
  viewer: ViewerHold | null;
  /** Whether Start/Stop are offered (a runtime is configured). */
  runtime: boolean;
  csrfToken: string;
  /** The clock's now: a report older than REPORT_OVERDUE_MS is shown as overdue. */
  now: Date;
}> = ({ workspaceId, run, viewer, runtime, csrfToken, now }) => {
  const starting =
    run?.state === "creating_network" ||
    run?.state === "starting" ||
    run?.state === "waiting_desktop";
  const running = run?.state === "running";
  const overdue = run ? reportOverdueSince(run, now) : null;
  return (
    <div
      id="workspace-run"
      data-run-state={run?.state ?? "never"}
      hx-get={starting ? `/workspaces/${workspaceId}/run` : undefined}
      hx-trigger={starting ? "every 1s" : undefined}
      hx-swap={starting ? "outerHTML" : undefined}
    >
      <p>
        State: <strong>{run ? STATE_WORDS[run.state] : "stopped (never started)"}</strong>
        {run?.state === "stopped" && run.stopReason
          ? ` (${REASON_WORDS[run.stopReason] ?? run.stopReason})`
          : null}
        {running && run?.dockerEndpoint ? ` on ${run.dockerEndpoint}` : null}
        {run ? ` · last start ${run.startedAt.toISOString()} by ${run.startedByName ?? "—"}` : null}
      </p>
      {starting && run?.message ? (
        <p role="status" class="muted">
          {run.message}… This part updates by itself.
        </p>
      ) : null}
      {run?.state === "failed" || (run?.state === "stopped" && run.message) ? (
        <p class="error" role="alert">
          {run.message}
        </p>
      ) : null}
      {running ? (
        <p>
          VPN: <strong>{run?.vpn ?? "no report yet"}</strong>
          {run?.vpnError ? ` · last error: ${run.vpnError}` : null}
          {overdue ? (
            <span class="error">
              {" "}
              · no report since {overdue.toISOString()}: the workspace's channel to the platform is
              broken, so this state may be stale (after a change of the platform's certificate it
              works again from the next start)
            </span>
          ) : null}
          {viewer
            ? ` · connected: ${viewer.username} since ${viewer.since.toISOString()}`
            : " · nobody connected"}
        </p>
      ) : null}
      <div class="row">
        {runtime && !starting && !running ? (
          <ActionButton action={`/workspaces/${workspaceId}/start`} csrfToken={csrfToken}>
            Start
          </ActionButton>
        ) : null}
        {running ? (
          <a class="button" href={`/workspaces/${workspaceId}/open`}>
            Open
          </a>
        ) : null}
        {runtime && running ? (
          <ActionButton
            action={`/workspaces/${workspaceId}/stop`}
            csrfToken={csrfToken}
            kind="danger"
            confirm="Stop the workspace? Its desktop closes; the home folder stays."
          >
            Stop
          </ActionButton>
        ) : null}
      </div>
    </div>
  );
};
