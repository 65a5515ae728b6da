// The page frame: head with local assets only, navigation by permission, the CSRF token for htmx.
import { raw } from "hono/html";
import type { Child, FC, PropsWithChildren } from "hono/jsx";
import { hasPermission, type Principal, scopeOf } from "../../access/index.ts";

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
            {principal ? <Nav principal={principal} csrfToken={csrfToken} /> : null}
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
    {hasPermission(principal, "users.manage") ? <a href="/users">Users</a> : null}
    {scopeOf(principal, "users.manage").all ? <a href="/identity-providers">Sign-in</a> : null}
    {hasPermission(principal, "audit.read") ? <a href="/audit">Audit log</a> : null}
    {hasPermission(principal, "pki.read") ? <a href="/pki">CA</a> : null}
    {hasPermission(principal, "pki.read") ? <a href="/status">Status</a> : null}

    <span class="who">{principal.displayName}</span>
    <a href="/account/password">Password</a>
    <a href="/alerts">Alerts</a>
    <a href="/account/api-tokens">API</a>
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
}> = (p) => (
  <label>
    <span>{p.label}</span>
    <input
      name={p.name}
      value={p.value}
      type={p.type ?? "text"}
      required={p.required ?? true}
      autocomplete={p.autocomplete ?? "off"}
      placeholder={p.placeholder}
      pattern={p.pattern}
      inputmode={p.inputmode}
    />
  </label>
);

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

export function formatTime(date: Date): string {
  return `${date.toISOString().replace("T", " ").slice(0, 19)} UTC`;
}
