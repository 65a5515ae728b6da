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
      </PortalPage>,
    );
  });
  return app;
}
