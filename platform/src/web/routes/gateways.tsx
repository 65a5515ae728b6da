// Gateways: creation shows the secret once; each owns a block of proxy addresses for its machines.
import { Hono, type Context as HonoContext } from "hono";
import { hasPermission, inScope, scopeOf } from "../../access/index.ts";
import { recordAuditAlone } from "../../audit/index.ts";
import { issueEnrollmentBundle } from "../../gateways/index.ts";
import {
  createGateway,
  createMachine,
  deleteGateway,
  type Gateway,
  gatewayBlock,
  gatewayVersion,
  getGateway,
  listGateways,
  listMachines,
  rekeyGateway,
  renameGateway,
} from "../../masterdata/index.ts";
import type { WebEnv } from "../env.ts";
import { formFields } from "../forms.ts";
import { signedIn } from "../middleware.ts";
import { reachOf } from "../remote-access.tsx";
import { keepForOneShowing } from "../reveals.ts";
import {
  ActionButton,
  DeleteActions,
  FormCard,
  LinkTable,
  PortalPage,
  RenameCard,
  treeCrumbs,
} from "../views/components.tsx";
import { AgentCard, MaintenanceCard } from "../views/gateways.tsx";
import { NameField, Token } from "../views/layout.tsx";
import { LanAddressField } from "../views/machines.tsx";
import { ReachCell } from "../views/reach.tsx";
import { AlreadyOnline, WorkstationCard } from "../views/workstations.tsx";

export function gatewayRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/gateways", async (c) => {
    const ctx = c.get("ctx");
    const gateways = await listGateways(ctx);
    const reach = await reachOf(
      c,
      gateways.map((g) => g.id),
    );
    const pool = c.get("deps").proxyPool;
    const canManage = hasPermission(ctx.caller.principal, "masterdata.manage");
    return c.html(
      <PortalPage title="Gateways" csrfToken={c.get("csrfToken")} principal={ctx.caller.principal}>
        {canManage ? <p class="muted">Add a gateway on its site's page.</p> : null}
        <LinkTable
          base="/gateways"
          items={gateways}
          head={["Gateway", "State", "Site", "Customer", "Proxy block"]}
          cells={(g) => {
            const state = reach.get(g.id);
            return (
              <>
                {state ? <ReachCell reach={state} /> : <td />}
                <td>{g.siteName}</td>
                <td>{g.customerName}</td>
                <td class="mono">
                  <Token>{gatewayBlock(pool, g)}</Token>
                </td>
              </>
            );
          }}
          empty={
            canManage
              ? "No gateways yet. Add one on its site's page (Customers → customer → site)."
              : "No gateways to show: you see those of your customers once an admin has added them."
          }
        />
      </PortalPage>,
    );
  });

  /**
   * Issues the enrollment bundle for `secret` and keeps both for one showing at /once/<id>,
   * where the POST redirects; nothing else keeps them.
   */
  const showCredentialsOnce = async (
    c: HonoContext<WebEnv>,
    gateway: Gateway,
    secret: string,
    created: boolean,
  ) => {
    const deps = c.get("deps");
    const ctx = c.get("ctx");
    const bundle = await issueEnrollmentBundle(deps.pki, {
      gatewayId: gateway.id,
      secret,
      platformUrl: deps.enrollment.platformUrl,
      validMs: deps.enrollment.validMs,
      now: deps.clock.now(),
      names: {
        gatewayName: gateway.name,
        siteName: gateway.siteName,
        customerName: gateway.customerName,
      },
    });
    await recordAuditAlone(deps.db, deps.clock, {
      actor: ctx.caller.actor,
      action: "gateway.enrollment_bundle",
      target: { type: "gateway", id: gateway.id },
      customerId: gateway.customerId,
      detail: { version: bundle.version, expiresAt: bundle.expiresAt.toISOString() },
    });
    const shown = await keepForOneShowing(deps, signedIn(c).id, "gateway_credentials", {
      gatewayId: gateway.id,
      secret,
      created,
      bundle: { ...bundle, expiresAt: bundle.expiresAt.toISOString() },
    });
    return c.redirect(shown, 303);
  };

  app.post("/sites/:id/gateways", async (c) => {
    const deps = c.get("deps");
    const { gateway, secret } = await createGateway(
      c.get("ctx"),
      deps.proxyPool,
      c.req.param("id"),
      await formFields(c),
    );
    // A workstation has no agent to enroll: its people bring it online from its page.
    if (gateway.kind === "workstation") return c.redirect(`/gateways/${gateway.id}`, 303);
    return showCredentialsOnce(c, gateway, secret, true);
  });

  app.get("/gateways/:id", async (c) => {
    const ctx = c.get("ctx");
    const gateway = await getGateway(ctx, c.req.param("id"));
    const { machines } = await listMachines(ctx, { gatewayId: gateway.id, limit: 1000 });
    // The data channel as the platform decided it, never as the agent's heartbeat claims it.
    const channel = await c.get("deps").access.dataChannels.open(gateway.id);
    const reach = (await reachOf(c, [gateway.id])).get(gateway.id) ?? null;
    const canManage = inScope(
      scopeOf(ctx.caller.principal, "masterdata.manage"),
      gateway.customerId,
    );
    const workstation = gateway.kind === "workstation";
    const mayArm = inScope(
      scopeOf(ctx.caller.principal, "workstations.arm"),
      gateway.customerId,
      gateway.siteId,
    );
    const mayMaintain =
      !workstation &&
      inScope(scopeOf(ctx.caller.principal, "gateways.maintain"), gateway.customerId);
    const csrf = c.get("csrfToken");
    return c.html(
      <PortalPage
        title={gateway.name}
        csrfToken={csrf}
        principal={ctx.caller.principal}
        crumbs={treeCrumbs(gateway.name, gateway)}
      >
        <div class="card">
          <dl>
            <dt>Gateway id</dt>
            <dd class="mono">{gateway.id}</dd>
            <dt>Proxy block</dt>
            <dd class="mono">
              <Token>{gatewayBlock(c.get("deps").proxyPool, gateway)}</Token>
            </dd>
          </dl>
          {workstation ? null : (
            <p>
              <a href={`/gateways/${gateway.id}/windows`}>Maintenance windows</a>
            </p>
          )}
        </div>
        {workstation ? (
          <>
            {c.req.query("online") === "already" && channel ? (
              <AlreadyOnline since={channel.onlineAt ?? channel.requestedAt} />
            ) : null}
            <WorkstationCard
              gatewayId={gateway.id}
              channel={channel}
              mayArm={mayArm}
              csrfToken={csrf}
            />
          </>
        ) : (
          <>
            <AgentCard
              gateway={gateway}
              reach={reach}
              now={c.get("deps").clock.now()}
              channel={
                channel && {
                  state: channel.state,
                  since: channel.onlineAt ?? channel.requestedAt,
                }
              }
            />
            <p>
              <a href={`/gateways/${gateway.id}/settings`}>SSH maintenance and operator UI reach</a>
            </p>
          </>
        )}
        {mayMaintain ? (
          <MaintenanceCard
            gatewayId={gateway.id}
            online={channel?.state === "online"}
            address={channel?.tunnelAddress ?? null}
            csrfToken={csrf}
          />
        ) : null}

        {canManage ? (
          <RenameCard
            action={`/gateways/${gateway.id}`}
            csrfToken={csrf}
            name={gateway.name}
            version={gatewayVersion(gateway)}
          />
        ) : null}
        <h2>Machines</h2>
        {canManage && !workstation ? (
          <FormCard
            action={`/gateways/${gateway.id}/machines`}
            csrfToken={csrf}
            submit="Add machine"
          >
            <NameField label="Machine name" placeholder="e.g. Press 7" />
            <LanAddressField />
          </FormCard>
        ) : null}
        <LinkTable
          base="/machines"
          items={machines}
          head={["Machine", "LAN address", "Proxy address"]}
          cells={(m) => (
            <>
              <td class="mono">
                <Token>{m.lanAddress}</Token>
              </td>
              <td class="mono">
                <Token>{m.proxyAddress}</Token>
              </td>
            </>
          )}
          empty={
            canManage
              ? "No machines yet. Add the first one above with its address in the machine network."
              : "No machines yet: the customer's admin or a platform admin adds them."
          }
        />
        {canManage ? (
          <DeleteActions
            action={`/gateways/${gateway.id}/delete`}
            csrfToken={csrf}
            what="gateway"
            name={gateway.name}
          >
            {workstation ? null : (
              <ActionButton
                action={`/gateways/${gateway.id}/rekey`}
                csrfToken={csrf}
                confirm="The gateway's current secret and enrollment bundle stop working at once. Continue?"
                kind="secondary"
              >
                Re-key (new enrollment bundle)
              </ActionButton>
            )}
          </DeleteActions>
        ) : null}
      </PortalPage>,
    );
  });

  app.post("/gateways/:id", async (c) => {
    const id = c.req.param("id");
    await renameGateway(c.get("ctx"), id, await formFields(c));
    return c.redirect(`/gateways/${id}`, 303);
  });

  /** SSH maintenance: the one-time .ovpn is kept for one showing at /once/<id>, like Connect. */
  app.post("/gateways/:id/maintenance", async (c) => {
    const ctx = c.get("ctx");
    const deps = c.get("deps");
    const gateway = await getGateway(ctx, c.req.param("id"));
    const { session, profile, target } = await deps.access.maintenance.request(
      ctx,
      gateway.id,
      await formFields(c),
    );
    const shown = await keepForOneShowing(deps, signedIn(c).id, "connection_profile", {
      sessionId: session.id,
      gatewayId: gateway.id,
      address: target,
      fileName: `meetpoint-${session.id}.ovpn`,
      profile,
      configExpiresAt: session.configExpiresAt.toISOString(),
      endsAt: session.endsAt.toISOString(),
      reach: `${target} tcp/22 (SSH to the gateway)`,
    });
    return c.redirect(shown, 303);
  });

  app.post("/gateways/:id/rekey", async (c) => {
    const ctx = c.get("ctx");
    const secret = await rekeyGateway(ctx, c.req.param("id"));
    return showCredentialsOnce(c, await getGateway(ctx, c.req.param("id")), secret, false);
  });

  app.post("/gateways/:id/delete", async (c) => {
    const gateway = await getGateway(c.get("ctx"), c.req.param("id"));
    await deleteGateway(c.get("ctx"), gateway.id);
    return c.redirect(`/sites/${gateway.siteId}`, 303);
  });

  app.post("/gateways/:id/machines", async (c) => {
    const machine = await createMachine(
      c.get("ctx"),
      c.get("deps").proxyPool,
      c.req.param("id"),
      await formFields(c),
    );
    return c.redirect(`/machines/${machine.id}`, 303);
  });

  return app;
}
