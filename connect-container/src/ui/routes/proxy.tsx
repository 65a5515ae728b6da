/** @jsxImportSource hono/jsx */
// The plant's HTTP proxy: where it is set (environment, here, enrollment bundle), the one the
// gateway uses for both channels, the control channel's last word on it, and the form to set it.
// A bad field answers 400 naming it; the password is never shown back.
import { type Context, Hono } from "hono";
import type { Agent } from "../../agent/agent.ts";
import type { ProxySetting } from "../../agent/proxy-setting.ts";
import type { UiEnv } from "../session.ts";
import { Card, Notice, Page, PostForm } from "../views.tsx";

export type ProxyDeps = { agent: Pick<Agent, "contact">; proxy: ProxySetting };

export function proxyRoutes({ agent, proxy }: ProxyDeps) {
  const routes = new Hono<UiEnv>();
  const page = (
    c: Context<UiEnv>,
    notice: { kind: "ok" | "error"; text: string } | null,
    status: 200 | 400 = 200,
  ) => {
    const { csrf } = c.get("session");
    const shown = proxy.shown();
    const contact = agent.contact;
    return c.html(
      <Page title="Proxy" csrf={csrf} nav>
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
              <label for="host">Host (name or IPv4 address, no http://)</label>
              <input id="host" name="host" value={shown?.host ?? ""} autocomplete="off" />
              <label for="port">Port</label>
              <input
                id="port"
                name="port"
                value={shown ? String(shown.port) : ""}
                inputmode="numeric"
              />
              <label for="username">User (only if the proxy asks)</label>
              <input
                id="username"
                name="username"
                value={shown?.username ?? ""}
                autocomplete="off"
              />
              <label for="password">Password (empty: keep the one set)</label>
              <input id="password" name="password" type="password" autocomplete="new-password" />
            </PostForm>
            <PostForm action="/proxy/remove" csrf={csrf} submit="Remove the proxy set here" />
          </Card>
        )}
      </Page>,
      status,
    );
  };
  routes.get("/proxy", (c) => page(c, null));
  routes.post("/proxy", async (c) => {
    const form = await c.req.parseBody();
    const field = (name: string) => (typeof form[name] === "string" ? (form[name] as string) : "");
    const saved = proxy.save({
      host: field("host"),
      port: field("port"),
      username: field("username"),
      password: field("password"),
    });
    return saved.ok
      ? page(c, { kind: "ok", text: "Saved: the next connection goes through this proxy." })
      : page(
          c,
          { kind: "error", text: `${saved.field}: ${saved.message}. Nothing was changed.` },
          400,
        );
  });
  routes.post("/proxy/remove", (c) => {
    proxy.clear();
    return page(c, { kind: "ok", text: "Removed." });
  });
  return routes;
}
