// Remote access in the portal: Connect on a machine (one-time .ovpn with countdown), Disconnect,
// and the session list with history, flow evidence and the data plane's state.
import { Hono } from "hono";
import { getMachine } from "../../masterdata/index.ts";
import type { WebEnv } from "../env.ts";
import { formFields } from "../forms.ts";
import { DataPlaneNotice } from "../remote-access.tsx";
import { ActionButton, DownloadLink, PortalPage, trail } from "../views/components.tsx";
import { formatTime, Notice } from "../views/layout.tsx";
import { SessionTable } from "../views/sessions.tsx";

export function sessionRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/sessions", async (c) => {
    const ctx = c.get("ctx");
    const all = await c.get("deps").access.remoteSessions.list(ctx);
    return c.html(
      <PortalPage
        title="Remote sessions"
        csrfToken={c.get("csrfToken")}
        principal={ctx.caller.principal}
      >
        <DataPlaneNotice c={c} />
        <SessionTable
          sessions={all}
          principal={ctx.caller.principal}
          csrfToken={c.get("csrfToken")}
        />
      </PortalPage>,
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
      <PortalPage
        title="Connect"
        csrfToken={c.get("csrfToken")}
        principal={ctx.caller.principal}
        crumbs={trail(
          "Connect",
          ["Machines", "/machines"],
          [machine.name, `/machines/${machine.id}`],
        )}
        heading={<>Your one-time connection to {machine.name}</>}
      >
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
            <DownloadLink
              fileName={fileName}
              mediaType="application/x-openvpn-profile"
              content={profile}
            >
              Download {fileName}
            </DownloadLink>
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
            <dt>Your PC's route</dt>
            <dd>
              The connection needs <span class="mono">{machine.proxyAddress}</span> routed into the
              OpenVPN tunnel. Connected but no answer? Run{" "}
              <span class="mono">ip route get {machine.proxyAddress}</span> (Windows:{" "}
              <span class="mono">Find-NetRoute -RemoteIPAddress {machine.proxyAddress}</span>): it
              must name the OpenVPN device. Another VPN (Tailscale and others use 100.64.0.0/10) or
              network that claims this address is a clash — pause it while connected.
            </dd>
          </dl>
          <ActionButton
            action={`/sessions/${session.id}/disconnect`}
            csrfToken={c.get("csrfToken")}
            kind="danger"
          >
            Disconnect
          </ActionButton>
        </div>
      </PortalPage>,
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
