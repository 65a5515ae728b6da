// Remote access shown on portal pages: the data plane's state and a machine's remote-access card,
// gathered from the session service for the views (used by the machine file and the session list).
import type { Context as HonoContext } from "hono";
import { inScope, scopeOf } from "../access/index.ts";
import type { WebEnv } from "./env.ts";
import { DataPlaneNotice as DataPlaneNoticeView, RemoteAccessCard } from "./views/sessions.tsx";

/** The data plane's warning, when remote access is off on this platform. */
export const DataPlaneNotice = ({ c }: { c: HonoContext<WebEnv> }) => (
  <DataPlaneNoticeView status={c.get("deps").access.gate.status()} />
);

/** The card on the machine file: gateway state, Connect, this machine's sessions. */
export async function remoteAccessCard(
  c: HonoContext<WebEnv>,
  machine: { id: string; gatewayId: string; customerId: string },
) {
  const ctx = c.get("ctx");
  const { dataChannels, remoteSessions, gate } = c.get("deps").access;
  const gatewaySession = await dataChannels.open(machine.gatewayId);
  const online = gatewaySession?.state === "online";
  const mayConnect = inScope(scopeOf(ctx.caller.principal, "sessions.connect"), machine.customerId);
  const history = await remoteSessions.list(ctx, { machineId: machine.id });
  return (
    <RemoteAccessCard
      machineId={machine.id}
      online={online}
      mayConnect={mayConnect}
      dataPlane={gate.status()}
      sessions={history.slice(0, 20)}
      principal={ctx.caller.principal}
      csrfToken={c.get("csrfToken")}
    />
  );
}
