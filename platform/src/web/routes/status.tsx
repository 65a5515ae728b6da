// The platform status page: is remote access possible here, and if not, exactly why.
import { formatCidr } from "@meetpoint/common";
import { Hono } from "hono";
import { hasPermission } from "../../access/index.ts";
import { ForbiddenError } from "../../shared/index.ts";
import type { WebEnv } from "../env.ts";
import { DataTable, PortalPage } from "../views/components.tsx";
import { Notice } from "../views/layout.tsx";

export function statusRoutes() {
  const app = new Hono<WebEnv>();
  app.get("/status", async (c) => {
    const principal = c.get("ctx").caller.principal;
    if (!hasPermission(principal, "pki.read")) throw new ForbiddenError();
    const { gate, instances } = c.get("deps").access;
    const status = gate.status();
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
        <DataTable
          head={["OpenVPN server", "Listens", "Tunnel network"]}
          rows={instances}
          row={(i) => (
            <tr>
              <td class="mono">meetpoint-vpn{i.index}</td>
              <td class="mono">
                {i.protocol}/{i.port}
              </td>
              <td class="mono">{formatCidr(i.tunnelNetwork)}</td>
            </tr>
          )}
        />
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
