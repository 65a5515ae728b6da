// Remote access shown on portal pages: the data plane's state, where each gateway stands (reach),
// and a machine's remote-access card, gathered for the views (machine file, lists, session list).
import type { Context as HonoContext } from "hono";
import { inScope, scopeOf } from "../access/index.ts";
import { gatewayReachFacts, getGateway, getSite, listServices } from "../masterdata/index.ts";
import type { WebEnv } from "./env.ts";
import { gatewayReach, type Reach } from "./views/reach.tsx";
import { DataPlaneNotice as DataPlaneNoticeView, RemoteAccessCard } from "./views/sessions.tsx";

/** The data plane's warning, when remote access is off on this platform. */
export const DataPlaneNotice = ({ c }: { c: HonoContext<WebEnv> }) => (
  <DataPlaneNoticeView status={c.get("deps").access.gate.status()} />
);

/** Where each of the gateways `ids` stands now, by gateway id. */
export async function reachOf(c: HonoContext<WebEnv>, ids: string[]): Promise<Map<string, Reach>> {
  const facts = await gatewayReachFacts(c.get("ctx"), ids);
  const now = c.get("deps").clock.now();
  return new Map([...facts].map(([id, f]) => [id, gatewayReach(f, now)]));
}

/** The card on the machine file: where the gateway stands, Connect, this machine's sessions. */
export async function remoteAccessCard(
  c: HonoContext<WebEnv>,
  machine: { id: string; gatewayId: string; customerId: string },
) {
  const ctx = c.get("ctx");
  const { remoteSessions, gate } = c.get("deps").access;
  const reach = (await reachOf(c, [machine.gatewayId])).get(machine.gatewayId);
  const mayConnect = inScope(scopeOf(ctx.caller.principal, "sessions.connect"), machine.customerId);
  const history = await remoteSessions.list(ctx, { machineId: machine.id });
  const site = await getSite(ctx, (await getGateway(ctx, machine.gatewayId)).siteId);
  const enabled = mayConnect ? (await listServices(ctx, machine.id)).filter((s) => s.enabled) : [];
  return (
    <RemoteAccessCard
      machineId={machine.id}
      enabled={enabled}
      site={site}
      platformMaxMinutes={Math.floor(c.get("deps").access.remoteSessionSeconds / 60)}
      reach={reach ?? null}
      mayConnect={mayConnect}
      dataPlane={gate.status()}
      sessions={history.slice(0, 20)}
      principal={ctx.caller.principal}
      csrfToken={c.get("csrfToken")}
    />
  );
}
