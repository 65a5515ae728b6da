/** @jsxImportSource hono/jsx */
// The operator UI's pages and fragments (Hono JSX, htmx from the gateway itself, no CDN).
import type { Child } from "hono/jsx";
import type { AgentEvent } from "../agent/events.ts";
import type { AgentStatus } from "../agent/status.ts";
import type { DiagnosticLine } from "../diagnostics/report.ts";
import type { Enrollment } from "../state/store.ts";

// Boosted forms show refusals (4xx pages) too; no eval, no inline scripts, same-origin only. No
// history cache: htmx would keep copies of pages (the API token's too) in sessionStorage for
// Back after sign-out; Back reloads from the gateway instead.
const HTMX_CONFIG = JSON.stringify({
  includeIndicatorStyles: false,
  allowEval: false,
  allowScriptTags: false,
  selfRequestsOnly: true,
  historyCacheSize: 0,
  refreshOnHistoryMiss: true,
  responseHandling: [
    { code: "204", swap: false },
    { code: "...", swap: true },
  ],
});

export function Page(props: { title: string; csrf?: string; nav?: boolean; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title} — Meetpoint gateway</title>
        <meta name="htmx-config" content={HTMX_CONFIG} />
        <link rel="stylesheet" href="/assets/ui.css" />

        <script src="/assets/htmx.min.js" defer />
      </head>
      <body hx-boost="true">
        <div hx-headers={props.csrf ? JSON.stringify({ "X-CSRF-Token": props.csrf }) : undefined}>
          <header>
            <strong>Meetpoint gateway</strong>
            {props.nav ? (
              <nav>
                <a href="/">Remote access</a>
                <a href="/enrollment">Enrollment</a>
                <a href="/diagnostics">Diagnostics</a>
                <a href="/events">Events</a>
                <a href="/ssh">SSH</a>
                <a href="/proxy">Proxy</a>
                <a href="/settings">Settings</a>
                <form method="post" action="/sign-out" class="inline">
                  <input type="hidden" name="_csrf" value={props.csrf} />
                  <button type="submit">Sign out</button>
                </form>
              </nav>
            ) : null}
          </header>
          <main>{props.children}</main>
        </div>
      </body>
    </html>
  );
}

/** A card with its heading (h1, or h2 with `level` 2): the block every page is made of. */
export function Card(props: { title?: string; level?: 1 | 2; children: Child }) {
  return (
    <div class="card">
      {props.title === undefined ? null : props.level === 2 ? (
        <h2>{props.title}</h2>
      ) : (
        <h1>{props.title}</h1>
      )}
      {props.children}
    </div>
  );
}

/**
 * A POST form: the session's CSRF token (once signed in), the fields, one submit button. An upload
 * (`multipart`) is posted as a plain form, without htmx.
 */
export function PostForm(props: {
  action: string;
  csrf?: string;
  submit: string;
  multipart?: boolean;
  children?: Child;
}) {
  return (
    <form
      method="post"
      action={props.action}
      enctype={props.multipart ? "multipart/form-data" : undefined}
      hx-boost={props.multipart ? "false" : undefined}
    >
      {props.csrf ? <input type="hidden" name="_csrf" value={props.csrf} /> : null}
      {props.children}
      <p>
        <button type="submit">{props.submit}</button>
      </p>
    </form>
  );
}

export function Notice(props: { kind: "ok" | "error"; text: string | null | undefined }) {
  return props.text ? (
    <p class={`notice ${props.kind}`} role={props.kind === "error" ? "alert" : "status"}>
      {props.text}
    </p>
  ) : null;
}

const STATE_WORDS: Record<AgentStatus["state"], string> = {
  idle: "Remote access off",
  connecting: "Connecting…",
  online: "Online — remote access allowed",
  reconnecting: "Connection lost — retrying",
};

const time = (iso: string | Date) => new Date(iso).toLocaleString("en-GB", { timeZone: "UTC" });

/** The live panel (polled every 2 s): state, who is connected, the big buttons. */
export function StatusPanel(props: {
  status: AgentStatus;
  enrolled: boolean;
  platform: string | null;
  csrf: string;
}) {
  const { status } = props;
  const active = status.remoteSessions.filter((s) => s.state === "active");
  return (
    <div id="status" hx-get="/status" hx-trigger="every 2s" hx-swap="outerHTML">
      <div class={`card ${active.length ? "active-session" : ""}`}>
        <p class={`state ${status.state}`} data-state={status.state}>
          {active.length ? "REMOTE SESSION ACTIVE" : STATE_WORDS[status.state]}
        </p>
        <p class="muted">
          {status.state === "idle"
            ? "Nobody can reach the machines from outside."
            : `Since ${time(status.since)} UTC, allowed via ${status.armedBy}.`}
          {status.retryAt ? ` Next attempt ${time(status.retryAt)} UTC.` : ""}
        </p>
        <Notice kind="error" text={status.lastError ? `Last error: ${status.lastError}` : null} />
        <div class="buttons">
          <form method="post" action="/connect" hx-boost="false">
            <input type="hidden" name="_csrf" value={props.csrf} />
            <button
              class="big connect"
              type="submit"
              disabled={!props.enrolled || status.state !== "idle"}
            >
              Connect
            </button>
          </form>
          <form method="post" action="/disconnect" hx-boost="false">
            <input type="hidden" name="_csrf" value={props.csrf} />
            <button class="big disconnect" type="submit" disabled={status.state === "idle"}>
              Disconnect
            </button>
          </form>
        </div>
        {!props.enrolled ? (
          <p>
            Not enrolled yet: <a href="/enrollment">import the enrollment bundle</a>.
          </p>
        ) : null}
      </div>
      {status.remoteSessions.map((s) => (
        <div class="card">
          <h2>
            {s.state === "active" ? "Connected" : "Requested"}: {s.technician}
          </h2>
          <dl>
            <dt>Why</dt>
            <dd>{s.reason}</dd>
            <dt>Machine</dt>
            <dd>
              {s.machine} <span class="mono">({s.lanAddress})</span>
            </dd>
            <dt>Services</dt>
            <dd>{s.services.map((x) => `${x.name} (${x.protocol}/${x.port})`).join(", ")}</dd>
            <dt>Since</dt>
            <dd>{time(s.since)} UTC</dd>
            <dt>Until</dt>
            <dd>{time(s.until)} UTC</dd>
          </dl>
        </div>
      ))}
      {props.platform ? <p class="muted">Platform: {props.platform}</p> : null}
    </div>
  );
}

export function EnrollmentCard(props: { enrollment: Enrollment | null }) {
  const e = props.enrollment;
  if (!e) return <p>This gateway is not enrolled.</p>;
  return (
    <dl>
      <dt>Gateway id</dt>
      <dd class="mono">{e.body.gatewayId}</dd>
      <dt>Platform</dt>
      <dd class="mono">{e.body.platformUrl}</dd>
      <dt>Bundle version</dt>
      <dd>{e.version}</dd>
      <dt>Imported</dt>
      <dd>{time(e.importedAt)} UTC</dd>
    </dl>
  );
}

export function DiagnosticsTable(props: { lines: DiagnosticLine[] }) {
  return (
    <table>
      <thead>
        <tr>
          <th>Result</th>
          <th>Check</th>
          <th>Detail</th>
        </tr>
      </thead>
      <tbody>
        {props.lines.map((l) => (
          <tr>
            <td class={`verdict ${l.verdict}`}>{l.verdict.toUpperCase()}</td>
            <td>{l.check}</td>
            <td>
              {l.detail}
              {l.hint ? <div class="muted">Hint: {l.hint}</div> : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function EventTable(props: { events: AgentEvent[] }) {
  return (
    <table>
      <tbody>
        {props.events.map((e) => (
          <tr>
            <td class="mono">{time(e.at)}</td>
            <td
              class={`verdict ${e.level === "info" ? "ok" : e.level === "warn" ? "warn" : "fail"}`}
            >
              {e.level}
            </td>
            <td>{e.text}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
