/** @jsxImportSource hono/jsx */
// The diagnostics page's live part: while the checks run, which one runs and the lines so far
// (polled every 500 ms); once done, the verdict first (the blocking cause and who must act), then
// every line, skipped ones said as such.
import { verdictOf } from "../diagnostics/report.ts";
import type { DiagnosticsRun } from "./diagnostics-runs.ts";
import { Time, Words } from "./views.tsx";

const WORDS = { ok: "OK", warn: "WARN", fail: "FAIL", skip: "SKIPPED" } as const;

export function DiagnosticsLive(props: { run: DiagnosticsRun }) {
  const { run } = props;
  const done = run.endedAt !== null;
  const verdict = done ? verdictOf(run.lines) : null;
  return (
    <div
      id="diagnostics-run"
      hx-get={done ? undefined : "/diagnostics/progress"}
      hx-trigger={done ? undefined : "every 500ms"}
      hx-swap={done ? undefined : "outerHTML"}
      data-done={done ? "true" : "false"}
    >
      {verdict ? (
        <div class={`verdict-card ${verdict.ok ? "ok" : "blocked"}`} id="verdict" role="status">
          <p class="headline">
            <Words text={verdict.headline} />
          </p>
          {verdict.act ? (
            <p>
              <Words text={verdict.act} />
            </p>
          ) : null}
          <p class="muted">
            Checked at <Time at={run.startedAt} />, in{" "}
            {(((run.endedAt?.getTime() ?? 0) - run.startedAt.getTime()) / 1000).toFixed(1)} s.{" "}
            <a href="/diagnostics?again=1">Run again</a>
          </p>
        </div>
      ) : (
        <p class="progress" role="status">
          <progress />
          Running the checks ({run.lines.length} done): {run.running ?? "finishing"}…
        </p>
      )}
      <div class="table-wrap">
        <table class="diagnostics">
          <thead>
            <tr>
              <th>Result</th>
              <th>Check</th>
              <th>Detail</th>
            </tr>
          </thead>
          <tbody>
            {run.lines.map((l) => (
              <tr data-verdict={l.verdict}>
                <td class={`verdict ${l.verdict}`}>{WORDS[l.verdict]}</td>
                <td>
                  <Words text={l.check} />
                </td>
                <td>
                  <Words text={l.detail} />
                  {l.hint ? (
                    <div class="muted">
                      Hint: <Words text={l.hint} />
                    </div>
                  ) : null}
                  {l.who && l.verdict === "fail" ? (
                    <div class="muted">Who must act: {l.who}</div>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
