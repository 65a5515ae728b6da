// The platform status page: is remote access possible here, and if not, exactly why.
import { formatCidr } from "@meetpoint/common";
import { Hono } from "hono";
import { hasPermission } from "../../access/index.ts";
import type { ServerState } from "../../sessions/index.ts";
import { ForbiddenError } from "../../shared/index.ts";
import type { WebEnv } from "../env.ts";
import { DataTable, PortalPage } from "../views/components.tsx";
import { Notice, Time, Token } from "../views/layout.tsx";

export function statusRoutes() {
  const app = new Hono<WebEnv>();
  app.get("/status", async (c) => {
    const principal = c.get("ctx").caller.principal;
    if (!hasPermission(principal, "pki.read")) throw new ForbiddenError();
    const { gate, instances, health } = c.get("deps").access;
    const status = gate.status();
    const { servers, refusedHandshakes, revocationList } = health();
    const siem = c.get("deps").siemStatus?.() ?? [];
    return c.html(
      <PortalPage title="Platform status" csrfToken={c.get("csrfToken")} principal={principal}>
        {status.on ? (
          <Notice kind="ok">Data plane on: OpenVPN servers and the firewall are running.</Notice>
        ) : (
          <Notice kind="error">
            Data plane off: {status.reason}. The portal works; nobody can connect to a machine.
          </Notice>
        )}
        {revocationList.ok ? null : (
          <Notice kind="error">
            Revocation list unusable since <Time at={revocationList.since} />:{" "}
            {revocationList.problem}. Every new connection is refused until it is renewed.
          </Notice>
        )}
        <DataTable
          head={["OpenVPN server", "Listens", "Tunnel network", "State"]}
          rows={instances}
          row={(i) => (
            <tr>
              <td class="mono">meetpoint-vpn{i.index}</td>
              <td class="mono">
                <Token>
                  {i.protocol}/{i.port}
                </Token>
              </td>
              <td class="mono">
                <Token>{formatCidr(i.tunnelNetwork)}</Token>
              </td>
              <td>
                <ServerStateText state={servers.find((s) => s.index === i.index)} />
              </td>
            </tr>
          )}
        />
        <h2>Refused handshakes</h2>
        <p>
          {refusedHandshakes.total === 0
            ? "None since the platform started."
            : `${refusedHandshakes.total} since the platform started (${Object.entries(
                refusedHandshakes.byCause,
              )
                .map(([cause, n]) => `${cause}: ${n}`)
                .join(", ")}).`}
        </p>
        {refusedHandshakes.last ? (
          <p class="muted">
            Last at <Time at={refusedHandshakes.last.at} />:{" "}
            <span class="mono">{refusedHandshakes.last.line}</span>
          </p>
        ) : null}
        <h2>SIEM export</h2>
        <DataTable
          head={["Destination", "Connected", "Waiting", "Delivered up to", "Last error"]}
          rows={siem}
          empty="No SIEM destination configured (MEETPOINT_SIEM_CONFIG)."
          row={(s) => (
            <tr>
              <td class="mono">
                {s.destination} ({s.url})
              </td>
              <td>{s.active ? (s.connected ? "yes" : "no") : "another instance forwards"}</td>
              <td>
                {s.alarm ? <strong>{s.backlog} entries: ALARM</strong> : `${s.backlog} entries`}
              </td>
              <td class="mono">{s.deliveredSeq}</td>
              <td>{s.lastError ?? ""}</td>
            </tr>
          )}
        />
      </PortalPage>,
    );
  });
  return app;
}

/** One server's state in words. */
function ServerStateText({ state }: { state: ServerState | undefined }) {
  if (!state || state.state === "stopped") return <span class="badge">stopped</span>;
  if (state.state === "restarting")
    return (
      <span>
        <span class="badge warn">restarting</span> attempt {state.attempt} since{" "}
        <Time at={state.since} />; last error: {state.lastError}
      </span>
    );
  return (
    <span>
      <span class="badge ok">running</span> since <Time at={state.since} />; certificate valid until{" "}
      <Time at={state.certificateNotAfter} />
    </span>
  );
}
