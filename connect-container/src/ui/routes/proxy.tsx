/** @jsxImportSource hono/jsx */
// The plant's HTTP proxy: where it is set (environment, here, enrollment bundle), the one the
// gateway uses for both channels, the control channel's last word on it, and the form to set it.
// A bad field answers 400 with the reason beside it under its visible label, and what was typed
// stays; the password is never shown back. A change is tried at once (a heartbeat goes out).
import type { ProxyFieldError } from "@meetpoint/common";
import { type Context, Hono } from "hono";
import type { Agent } from "../../agent/agent.ts";
import type { ProxySetting } from "../../agent/proxy-setting.ts";
import type { UiEnv } from "../session.ts";
import { Card, Notice, Page, PostForm } from "../views.tsx";

export type ProxyDeps = { agent: Pick<Agent, "contact" | "heartbeatNow">; proxy: ProxySetting };

type Field = ProxyFieldError["field"];
type Typed = Record<Field, string>;

/** Each field's visible label, the short name its errors use, and the browser's own checks. */
const FIELDS: Record<
  Field,
  { label: string; name: string; attrs: Record<string, string | number | boolean> }
> = {
  host: {
    label: "Host (name or IPv4 address, no http://)",
    name: "Host",
    attrs: { required: true, maxlength: 253, autocomplete: "off", spellcheck: false },
  },
  port: {
    label: "Port",
    name: "Port",
    attrs: { required: true, inputmode: "numeric", pattern: "[0-9]{1,5}", maxlength: 5 },
  },
  username: {
    label: "User (only if the proxy asks)",
    name: "User",
    attrs: { maxlength: 128, autocomplete: "off", spellcheck: false },
  },
  password: {
    label: "Password (empty: keep the one set)",
    name: "Password",
    attrs: { type: "password", maxlength: 256, autocomplete: "new-password" },
  },
};

function ProxyInput(props: { field: Field; value: string; error: ProxyFieldError | null }) {
  const { label, name, attrs } = FIELDS[props.field];
  const error = props.error?.field === props.field ? `${name}: ${props.error.message}` : null;
  return (
    <>
      <label for={props.field}>{label}</label>
      <input
        id={props.field}
        name={props.field}
        value={props.field === "password" ? "" : props.value}
        {...attrs}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={error ? `${props.field}-error` : undefined}
      />
      {error ? (
        <p class="field-error" id={`${props.field}-error`}>
          {error}
        </p>
      ) : null}
    </>
  );
}

export function proxyRoutes({ agent, proxy }: ProxyDeps) {
  const routes = new Hono<UiEnv>();
  const page = (
    c: Context<UiEnv>,
    notice: { kind: "ok" | "error"; text: string } | null,
    refused: { error: ProxyFieldError; typed: Typed } | null = null,
  ) => {
    const { csrf } = c.get("session");
    const shown = proxy.shown();
    const contact = agent.contact;
    const typed: Typed = refused?.typed ?? {
      host: shown?.host ?? "",
      port: shown ? String(shown.port) : "",
      username: shown?.username ?? "",
      password: "",
    };
    return c.html(
      <Page title="Proxy" csrf={csrf} nav demo={c.get("demo")}>
        <Card title="HTTP proxy">
          {notice ? <Notice kind={notice.kind} text={notice.text} /> : null}
          <p class="muted">
            Where the plant reaches the internet only through an HTTP proxy, both channels use it:
            the control channel through HTTP CONNECT, OpenVPN with its http-proxy option (over TCP).
            The environment (MEETPOINT_HTTP_PROXY) comes first, then what is set here, then the
            enrollment bundle's.
          </p>
          <dl>
            <dt>In use</dt>
            <dd id="proxy-in-use">
              {shown
                ? `${shown.host}:${shown.port}${shown.username ? `, user ${shown.username}${shown.hasPassword ? " (password set)" : ""}` : ""} — set by the ${shown.source}`
                : "none: the platform is reached directly"}
            </dd>
            <dt>Control channel</dt>
            <dd id="control-channel">
              {contact === null
                ? "no exchange yet"
                : contact.ok
                  ? "the platform answers"
                  : `failing: ${contact.error}`}
            </dd>
          </dl>
        </Card>
        {shown?.source === "environment" ? null : (
          <Card title="Set the proxy" level={2}>
            <PostForm action="/proxy" csrf={csrf} submit="Save">
              {(Object.keys(FIELDS) as Field[]).map((field) => (
                <ProxyInput field={field} value={typed[field]} error={refused?.error ?? null} />
              ))}
            </PostForm>
            <PostForm action="/proxy/remove" csrf={csrf} submit="Remove the proxy set here" />
          </Card>
        )}
      </Page>,
      refused ? 400 : 200,
    );
  };
  routes.get("/proxy", (c) => page(c, null));
  routes.post("/proxy", async (c) => {
    const form = await c.req.parseBody();
    const field = (name: string) => (typeof form[name] === "string" ? (form[name] as string) : "");
    const typed: Typed = {
      host: field("host"),
      port: field("port"),
      username: field("username"),
      password: field("password"),
    };
    const saved = proxy.save(typed);
    if (!saved.ok)
      return page(c, { kind: "error", text: "Nothing was changed." }, { error: saved, typed });
    agent.heartbeatNow();
    return page(c, {
      kind: "ok",
      text: "Saved: the gateway tries the platform through this proxy now; the control channel's line below follows within seconds.",
    });
  });
  routes.post("/proxy/remove", (c) => {
    proxy.clear();
    agent.heartbeatNow();
    return page(c, {
      kind: "ok",
      text: "Removed: the gateway tries the platform directly now; the control channel's line below follows within seconds.",
    });
  });
  return routes;
}
