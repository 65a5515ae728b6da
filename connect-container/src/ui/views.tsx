/** @jsxImportSource hono/jsx */
// The operator UI's page frame and small parts (Hono JSX, htmx from the gateway itself, no CDN):
// the menu (a button on small screens), cards, forms, notices, one time format, the enrollment and
// the event log. The status panel and the diagnostics have their own files.
import { isoTime, splitTokens } from "@meetpoint/common";
import type { Child } from "hono/jsx";
import type { AgentEvent } from "../agent/events.ts";
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

/**
 * A page. `demo` (the agent runs with a firewall that only records) puts a banner on every page:
 * this gateway protects nothing.
 */
export function Page(props: {
  title: string;
  csrf?: string;
  nav?: boolean;
  demo?: boolean;
  children: Child;
}) {
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
          {props.demo ? <DemoBanner /> : null}
          <header>
            <strong>Meetpoint gateway</strong>
            {props.nav ? (
              <>
                {/* Small screens: the menu opens with this box (no script needed); see ui.css. */}
                <input type="checkbox" id="menu-open" class="menu-open" aria-label="Menu" />
                <label for="menu-open" class="menu-button" aria-hidden="true">
                  Menu
                </label>
                <nav>
                  <a href="/">Remote access</a>
                  <a href="/enrollment">Enrollment</a>
                  <a href="/diagnostics">Diagnostics</a>
                  <a href="/events">Events</a>
                  <a href="/windows">Windows</a>
                  <a href="/ssh">SSH</a>
                  <a href="/proxy">Proxy</a>
                  <a href="/settings">Settings</a>
                  <form method="post" action="/sign-out" class="inline">
                    <input type="hidden" name="_csrf" value={props.csrf} />
                    <button type="submit">Sign out</button>
                  </form>
                </nav>
              </>
            ) : null}
          </header>
          <main>{props.children}</main>
        </div>
      </body>
    </html>
  );
}

/** Says loudly, on every page, that this gateway is a demonstration that protects nothing. */
export function DemoBanner() {
  return (
    <p class="demo-banner" role="alert" id="demo-banner">
      DEMO MODE — this gateway protects nothing: its firewall only records what it would do, and the
      host's firewall is not touched. Never connect it to a real machine network.
    </p>
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
  secondary?: boolean;
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
        <button type="submit" class={props.secondary ? "secondary" : undefined}>
          {props.submit}
        </button>
      </p>
    </form>
  );
}

export function Notice(props: { kind: "ok" | "error"; text: string | null | undefined }) {
  return props.text ? (
    <p class={`notice ${props.kind}`} role={props.kind === "error" ? "alert" : "status"}>
      <Words text={props.text} />
    </p>
  ) : null;
}

/** Running text whose addresses, ports and times never break across lines. */
export function Words(props: { text: string }) {
  return (
    <>
      {splitTokens(props.text).map((part) =>
        part.token ? <span class="token">{part.text}</span> : part.text,
      )}
    </>
  );
}

/** A moment as both UIs write it: ISO 8601 in UTC ("2026-11-30T09:45:12Z"), one unbreakable token. */
export function Time(props: { at: Date | string }) {
  const date = typeof props.at === "string" ? new Date(props.at) : props.at;
  return (
    <time class="token" datetime={date.toISOString()}>
      {isoTime(date)}
    </time>
  );
}

/** A value that never breaks across lines: an address, a port, an id. */
export function Token(props: { children: Child }) {
  return <span class="token">{props.children}</span>;
}

/** Who a bundle names the gateway as, where it stands and whose it is (older bundles: the id only). */
export function GatewayIdentity(props: { body: Enrollment["body"] }) {
  const { body } = props;
  return (
    <>
      <dt>Gateway</dt>
      <dd>{body.gatewayName ?? <span class="muted">(name not in this bundle)</span>}</dd>
      <dt>Site</dt>
      <dd>{body.siteName ?? <span class="muted">—</span>}</dd>
      <dt>Customer</dt>
      <dd>{body.customerName ?? <span class="muted">—</span>}</dd>
      <dt>Gateway id</dt>
      <dd class="mono">{body.gatewayId}</dd>
      <dt>Platform</dt>
      <dd class="mono">{body.platformUrl}</dd>
    </>
  );
}

export function EnrollmentCard(props: { enrollment: Enrollment | null }) {
  const e = props.enrollment;
  if (!e) return <p>This gateway is not enrolled: import the bundle below.</p>;
  return (
    <dl>
      <GatewayIdentity body={e.body} />
      <dt>Bundle version</dt>
      <dd>{e.version}</dd>
      <dt>Imported</dt>
      <dd>
        <Time at={e.importedAt} />
      </dd>
    </dl>
  );
}

export function EventTable(props: { events: AgentEvent[] }) {
  return (
    <div class="table-wrap">
      <table>
        <tbody>
          {props.events.map((e) => (
            <tr>
              <td>
                <Time at={e.at} />
              </td>
              <td
                class={`verdict ${e.level === "info" ? "ok" : e.level === "warn" ? "warn" : "fail"}`}
              >
                {e.level}
              </td>
              <td>
                <Words text={e.text} />
              </td>
            </tr>
          ))}
          {props.events.length === 0 ? (
            <tr>
              <td class="muted">Nothing has happened yet.</td>
            </tr>
          ) : null}
        </tbody>
      </table>
    </div>
  );
}
