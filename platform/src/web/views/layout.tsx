// The page frame: head with local assets only, navigation by permission (a menu button on small
// screens), the CSRF token for htmx; form fields with the server's own limits; one time format.
import { isoTime, splitTokens } from "@meetpoint/common";
import { raw } from "hono/html";
import type { Child, FC, PropsWithChildren } from "hono/jsx";
import { hasPermission, mayHoldApiTokens, type Principal, scopeOf } from "../../access/index.ts";
import { NAME_MAX } from "../../shared/index.ts";

interface LayoutProps {
  title: string;
  csrfToken: string;
  principal?: Principal | null;
}

// Boosted forms show a refusal (4xx) in #messages and keep what the user typed: swap every answer.
// No history cache: htmx would keep copies of pages (secrets included) in sessionStorage, shown
// again by Back after sign-out; Back instead reloads the page, which the server answers anew.
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

export const Layout: FC<PropsWithChildren<LayoutProps>> = ({
  title,
  csrfToken,
  principal,
  children,
}) => (
  <>
    {raw("<!DOCTYPE html>")}
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="htmx-config" content={HTMX_CONFIG} />
        <title>{`${title} · Meetpoint`}</title>
        <link rel="stylesheet" href="/assets/app.css" />
        <link rel="stylesheet" href="/assets/parts.css" />
        <link rel="icon" href="data:," />
        <script src="/assets/htmx.min.js" defer></script>
        <script src="/assets/app.js" defer></script>
      </head>
      <body hx-boost="true">
        {/* Inside body, not on it: a boosted navigation swaps body's content, and with it the token. */}
        <div hx-headers={JSON.stringify({ "X-CSRF-Token": csrfToken })}>
          <header class="top">
            <a class="brand" href="/">
              Meetpoint
            </a>
            {principal ? (
              <>
                {/* Small screens: the menu opens with this box (no script needed); see app.css. */}
                <input type="checkbox" id="menu-open" class="menu-open" aria-label="Menu" />
                <label for="menu-open" class="menu-button" aria-hidden="true">
                  Menu
                </label>
                <Nav principal={principal} csrfToken={csrfToken} />
              </>
            ) : null}
          </header>
          <main>
            <div id="messages" aria-live="polite"></div>
            {children}
          </main>
        </div>
      </body>
    </html>
  </>
);

const Nav: FC<{ principal: Principal; csrfToken: string }> = ({ principal, csrfToken }) => (
  <nav>
    <a href="/machines">Machines</a>
    <a href="/sessions">Sessions</a>

    <a href="/customers">Customers</a>
    <a href="/gateways">Gateways</a>
    {hasPermission(principal, "workspaces.manage") ||
    hasPermission(principal, "sessions.connect") ? (
      <a href="/workspaces">Workspaces</a>
    ) : null}
    {hasPermission(principal, "users.manage") ? <a href="/users">Users</a> : null}
    {scopeOf(principal, "users.manage").all ? <a href="/identity-providers">Sign-in</a> : null}
    {hasPermission(principal, "audit.read") ? <a href="/audit">Audit log</a> : null}
    {hasPermission(principal, "audit.read") ? <a href="/recordings">Recordings</a> : null}
    {hasPermission(principal, "pki.read") ? <a href="/pki">CA</a> : null}
    {hasPermission(principal, "pki.read") ? <a href="/status">Status</a> : null}
    <a href="/help">Help</a>

    <span class="who">{principal.displayName}</span>
    <a href="/account/password">Password</a>
    <a href="/alerts">Alerts</a>
    {mayHoldApiTokens(principal) ? <a href="/account/api-tokens">API</a> : null}
    <form method="post" action="/sign-out" class="inline">
      <Csrf token={csrfToken} />
      <button type="submit" class="link">
        Sign out
      </button>
    </form>
  </nav>
);

export const Csrf: FC<{ token: string }> = ({ token }) => (
  <input type="hidden" name="_csrf" value={token} />
);

/** A POST form carrying the CSRF token; `confirm` asks before submitting (htmx). */
export const PostForm: FC<
  PropsWithChildren<{ action: string; csrfToken: string; confirm?: string; class?: string }>
> = (props) => (
  <form method="post" action={props.action} hx-confirm={props.confirm} class={props.class}>
    <Csrf token={props.csrfToken} />
    {props.children}
  </form>
);

/**
 * A labelled input. Give it the server's limits (`maxlength`, `pattern`, `min`/`max`), so the
 * browser refuses what the server would; `hint` says the allowed form up front.
 */
export const Field: FC<{
  label: string;
  name: string;
  value?: string;
  type?: string;
  required?: boolean;
  autocomplete?: string;
  placeholder?: string;
  pattern?: string;
  inputmode?: "numeric" | "text";
  maxlength?: number;
  minlength?: number;
  min?: number;
  max?: number;
  hint?: string;
  /** Why the server refused what was typed here, shown beside the field. */
  error?: string;
}> = (p) => (
  <label>
    <span>{p.label}</span>
    <input
      aria-invalid={p.error ? "true" : undefined}
      name={p.name}
      value={p.value}
      type={p.type ?? "text"}
      required={p.required ?? true}
      autocomplete={p.autocomplete ?? "off"}
      placeholder={p.placeholder}
      pattern={p.pattern}
      inputmode={p.inputmode}
      maxlength={p.maxlength}
      minlength={p.minlength}
      min={p.min}
      max={p.max}
      title={p.hint}
    />
    {p.hint ? <small class="hint">{p.hint}</small> : null}
    {p.error ? <span class="field-error">{p.error}</span> : null}
  </label>
);

/** A display name (customer, site, gateway, machine, service): required, at most NAME_MAX characters. */
export const NameField: FC<{ label: string; value?: string; placeholder?: string }> = (p) => (
  <Field
    label={p.label}
    name="name"
    value={p.value}
    placeholder={p.placeholder}
    maxlength={NAME_MAX}
  />
);

/** A dotted IPv4 address, each part 0-255: what the server's address check takes. */
export const IPV4_PATTERN =
  "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}";

export const Notice: FC<{ kind: "error" | "ok" | "warn"; children: Child }> = ({
  kind,
  children,
}) => (
  <p class={`notice ${kind}`} role={kind === "error" ? "alert" : "status"}>
    {children}
  </p>
);

export const Breadcrumbs: FC<{ items: [string, string | null][] }> = ({ items }) => (
  <p class="crumbs">
    {items.map(([label, href], i) => (
      <>
        {i > 0 ? " › " : ""}
        {href ? <a href={href}>{label}</a> : <span>{label}</span>}
      </>
    ))}
  </p>
);

/** A moment as the portal writes it everywhere: ISO 8601 in UTC ("2026-11-30T09:45:12Z"). */
export function formatTime(date: Date): string {
  return isoTime(date);
}

/** A moment on a page: one unbreakable token, machine-readable in `datetime`. */
export const Time: FC<{ at: Date }> = ({ at }) => (
  <time class="token" datetime={at.toISOString()}>
    {formatTime(at)}
  </time>
);

/** Running text whose addresses, ports and times never break across lines. */
export const Words: FC<{ text: string }> = ({ text }) => (
  <>
    {splitTokens(text).map((part) =>
      part.token ? <span class="token">{part.text}</span> : part.text,
    )}
  </>
);

/** A value that must never break across lines: an address, a port, a block, an id. */
export const Token: FC<{ children: Child; title?: string }> = ({ children, title }) => (
  <span class="token" title={title}>
    {children}
  </span>
);
