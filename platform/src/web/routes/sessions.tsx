// Remote access in the portal: Connect on a machine (one-time .ovpn with countdown), Disconnect,
// and the session list with history, flow evidence and the data plane's state.
import { Hono, type Context as HonoContext } from "hono";
import type { FC } from "hono/jsx";
import { inScope, scopeOf } from "../../access/index.ts";
import { getMachine } from "../../masterdata/index.ts";
import type { SessionView } from "../../sessions/index.ts";
import type { WebEnv } from "../env.ts";
import { formFields } from "../forms.ts";
import { Breadcrumbs, Field, formatTime, Layout, Notice, PostForm } from "../views/layout.tsx";

const STATE_LABELS = {
  requested: "waiting for the technician's client",
  active: "connected",
  ended: "ended",
} as const;

export const DataPlaneNotice: FC<{ c: HonoContext<WebEnv> }> = ({ c }) => {
  const status = c.get("deps").access.gate.status();
  return status.on ? null : (
    <Notice kind="warn">Remote access is off on this platform: {status.reason}.</Notice>
  );
};

/** Sessions as a table; Disconnect where the caller may end them. */
export const SessionTable: FC<{ sessions: SessionView[]; c: HonoContext<WebEnv> }> = ({
  sessions,
  c,
}) => {
  const principal = c.get("ctx").caller.principal;
  const csrf = c.get("csrfToken");
  return (
    <table>
      <thead>
        <tr>
          <th>Machine</th>
          <th>Technician · reason</th>
          <th>State</th>
          <th>Times</th>
          <th>Traffic</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        {sessions.map((s) => (
          <tr>
            <td>
              <a href={`/machines/${s.machineId}`}>{s.machineName}</a>
            </td>
            <td>
              {s.technicianName} · <span class="muted">{s.reason}</span>
            </td>
            <td>
              <span class={`badge ${s.state === "ended" ? "" : "ok"}`}>
                {STATE_LABELS[s.state]}
              </span>
              {s.endReason ? <div class="muted">by {s.endReason.replace("_", " ")}</div> : null}
            </td>
            <td>
              <div>requested {formatTime(s.requestedAt)}</div>
              {s.endedAt ? (
                <div>ended {formatTime(s.endedAt)}</div>
              ) : (
                <div>cut at {formatTime(s.endsAt)}</div>
              )}
            </td>
            <td>
              <div class="mono">
                {s.services.map((svc) => `${svc.protocol}/${svc.port}`).join(" ")}
              </div>
              <div class="muted">
                {s.bytesIn} B in · {s.bytesOut} B out
              </div>
              {s.flowEvidence?.map((e) => (
                <div class="muted mono">
                  {e.protocol}/{e.port}: {e.packets} packets, {e.bytes} B
                </div>
              ))}
            </td>
            <td>
              {s.state !== "ended" &&
              (s.technicianId === principal.userId ||
                inScope(scopeOf(principal, "sessions.manage"), s.customerId)) ? (
                <PostForm
                  action={`/sessions/${s.id}/disconnect`}
                  csrfToken={csrf}
                  confirm="End this remote session now?"
                >
                  <button type="submit" class="danger">
                    {s.technicianId === principal.userId ? "Disconnect" : "Terminate"}
                  </button>
                </PostForm>
              ) : null}
            </td>
          </tr>
        ))}
        {sessions.length === 0 ? (
          <tr>
            <td colspan={6} class="muted">
              No remote sessions.
            </td>
          </tr>
        ) : null}
      </tbody>
    </table>
  );
};

/** The card on the machine file: gateway state, Connect, this machine's sessions. */
export async function remoteAccessCard(
  c: HonoContext<WebEnv>,
  machine: { id: string; gatewayId: string; customerId: string },
) {
  const ctx = c.get("ctx");
  const { dataChannels, remoteSessions } = c.get("deps").access;
  const gatewaySession = await dataChannels.open(machine.gatewayId);
  const online = gatewaySession?.state === "online";
  const mayConnect = inScope(scopeOf(ctx.caller.principal, "sessions.connect"), machine.customerId);
  const history = await remoteSessions.list(ctx, { machineId: machine.id });
  return (
    <>
      <h2>Remote access</h2>
      <DataPlaneNotice c={c} />
      <div class="card">
        <p>
          Gateway:{" "}
          <span class={`badge ${online ? "ok" : "failed"}`}>
            {online ? "online — the operator allows access" : "offline"}
          </span>
        </p>
        {mayConnect && online ? (
          <PostForm
            action={`/machines/${machine.id}/connect`}
            csrfToken={c.get("csrfToken")}
            class="row"
          >
            <Field
              label="Reason (ticket, fault) — shown to the operator and logged"
              name="reason"
              placeholder="e.g. ticket 4711, axis 3 fault"
            />
            <button type="submit">Connect</button>
          </PostForm>
        ) : mayConnect ? (
          <p class="muted">
            Connect becomes possible when the operator at the machine presses Connect on the
            gateway.
          </p>
        ) : null}
      </div>
      <SessionTable sessions={history.slice(0, 20)} c={c} />
    </>
  );
}

export function sessionRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/sessions", async (c) => {
    const ctx = c.get("ctx");
    const all = await c.get("deps").access.remoteSessions.list(ctx);
    return c.html(
      <Layout
        title="Remote sessions"
        csrfToken={c.get("csrfToken")}
        principal={ctx.caller.principal}
      >
        <h1>Remote sessions</h1>
        <DataPlaneNotice c={c} />
        <SessionTable sessions={all} c={c} />
      </Layout>,
    );
  });

  app.post("/machines/:id/connect", async (c) => {
    const ctx = c.get("ctx");
    const machine = await getMachine(ctx, c.req.param("id"));
    const { session, profile } = await c
      .get("deps")
      .access.remoteSessions.request(ctx, machine.id, await formFields(c));
    c.header("Cache-Control", "no-store");
    const fileName = `meetpoint-${session.id}.ovpn`;
    return c.html(
      <Layout title="Connect" csrfToken={c.get("csrfToken")} principal={ctx.caller.principal}>
        <Breadcrumbs
          items={[
            ["Machines", "/machines"],
            [machine.name, `/machines/${machine.id}`],
            ["Connect", null],
          ]}
        />
        <h1>Your one-time connection to {machine.name}</h1>
        <div class="card">
          <Notice kind="warn">
            This configuration is offered only on this page and works for one connection. Open it
            with your OpenVPN client within{" "}
            <strong data-countdown={session.configExpiresAt.toISOString()}>
              {formatTime(session.configExpiresAt)}
            </strong>
            .
          </Notice>
          <p>
            <a
              class="button"
              hx-boost="false"
              download={fileName}
              href={`data:application/x-openvpn-profile;base64,${Buffer.from(profile).toString("base64")}`}
            >
              Download {fileName}
            </a>
          </p>
          <dl>
            <dt>Reach</dt>
            <dd class="mono">
              {session.services
                .map((s) => `${machine.proxyAddress} ${s.protocol}/${s.port} (${s.name})`)
                .join(", ")}
            </dd>
            <dt>Session ends</dt>
            <dd>{formatTime(session.endsAt)}</dd>
          </dl>
          <PostForm action={`/sessions/${session.id}/disconnect`} csrfToken={c.get("csrfToken")}>
            <button type="submit" class="danger">
              Disconnect
            </button>
          </PostForm>
        </div>
      </Layout>,
    );
  });

  app.post("/sessions/:id/disconnect", async (c) => {
    const session = await c
      .get("deps")
      .access.remoteSessions.disconnect(c.get("ctx"), c.req.param("id"));
    return c.redirect(`/machines/${session.machineId}`, 303);
  });

  return app;
}
