/** @jsxImportSource hono/jsx */
// SSH maintenance and the UI's reach, as the platform set them (read-only here: a signed setting
// that nobody at the gateway can change), the maintenance sessions open now, and the operator's
// own SSH keys — which the operator may add only where the platform allows it.
import { type Context, Hono } from "hono";
import type { Agent } from "../../agent/agent.ts";
import type { UiEnv } from "../session.ts";
import { Card, Notice, Page, PostForm } from "../views.tsx";

export type SshDeps = { agent: Pick<Agent, "settings" | "ssh" | "status" | "operatorKeys"> };

export function sshRoutes({ agent }: SshDeps) {
  const routes = new Hono<UiEnv>();
  const page = (
    c: Context<UiEnv>,
    notice: { kind: "ok" | "error"; text: string } | null,
    status: 200 | 400 = 200,
  ) => {
    const { csrf } = c.get("session");
    const { body, version } = agent.settings;
    const ssh = agent.ssh;
    const keys = agent.operatorKeys;
    const maintenance = agent.status.maintenanceSessions;
    return c.html(
      <Page title="SSH maintenance" csrf={csrf} nav demo={c.get("demo")}>
        <Card title="SSH maintenance">
          {notice ? <Notice kind={notice.kind} text={notice.text} /> : null}
          <p class="muted">
            Set by the platform (signed settings{version ? `, version ${version}` : ": defaults"}
            ); they cannot be changed here. Logins use keys only and reach the gateway from the
            machine network, or through the tunnel while a platform admin has a maintenance session
            open — never from the customer network.
          </p>
          <dl>
            <dt>SSH server</dt>
            <dd id="ssh-state">
              {body.ssh.enabled
                ? ssh.listening.length
                  ? `on, listening on ${ssh.listening.map((a) => `${a}:22`).join(", ")}`
                  : "on, not listening (see Events)"
                : "off"}
            </dd>
            <dt>Host key</dt>
            <dd class="mono">{ssh.hostKey ?? "—"}</dd>
            <dt>Operator UI answers on</dt>
            <dd id="ui-reach">
              {body.operatorUi.reach === "lan"
                ? "the machine network only"
                : "the machine network and the customer network (WAN side)"}
            </dd>
          </dl>
        </Card>
        <Card title="Maintenance sessions open now" level={2}>
          {maintenance.length === 0 ? (
            <p>None: the tunnel reaches nothing on this gateway.</p>
          ) : (
            <ul>
              {maintenance.map((m) => (
                <li>
                  {m.technician}: {m.reason} (until {new Date(m.until).toLocaleString("en-GB")})
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title="Keys from the platform" level={2}>
          {body.ssh.authorizedKeys.length === 0 ? <p>None.</p> : null}
          <ul>
            {body.ssh.authorizedKeys.map((k) => (
              <li>
                {k.label || "(no label)"} <span class="mono">{k.key.split(" ")[0]}</span>
              </li>
            ))}
          </ul>
        </Card>
        <Card title="Your keys" level={2}>
          {keys.allowed ? null : (
            <p class="muted">
              The platform does not allow keys entered here
              {keys.list().length ? ": these are not used" : ""}.
            </p>
          )}
          <ul>
            {keys.list().map((k) => (
              <li>
                {k.label || "(no label)"} <span class="mono">{k.fingerprint}</span>
                <PostForm action="/ssh/keys/remove" csrf={csrf} submit="Remove">
                  <input type="hidden" name="fingerprint" value={k.fingerprint} />
                </PostForm>
              </li>
            ))}
          </ul>
          {keys.allowed ? (
            <PostForm action="/ssh/keys" csrf={csrf} submit="Add key">
              <label for="key">Public key (ssh-ed25519 …, or RSA of 3072 bits or more)</label>
              <input id="key" name="key" autocomplete="off" />
              <label for="label">Label (whose key)</label>
              <input id="label" name="label" autocomplete="off" />
            </PostForm>
          ) : null}
        </Card>
      </Page>,
      status,
    );
  };
  routes.get("/ssh", (c) => page(c, null));
  routes.post("/ssh/keys", async (c) => {
    const form = await c.req.parseBody();
    const result = agent.operatorKeys.add(String(form.key ?? ""), String(form.label ?? ""));
    return result.ok
      ? page(c, { kind: "ok", text: `Key ${result.key.fingerprint} added.` })
      : page(c, { kind: "error", text: `Refused: ${result.reason}. Nothing was changed.` }, 400);
  });
  routes.post("/ssh/keys/remove", async (c) => {
    const form = await c.req.parseBody();
    const result = agent.operatorKeys.remove(String(form.fingerprint ?? ""));
    return result.ok
      ? page(c, { kind: "ok", text: `Key ${result.key.fingerprint} removed.` })
      : page(c, { kind: "error", text: `Refused: ${result.reason}.` }, 400);
  });
  return routes;
}
