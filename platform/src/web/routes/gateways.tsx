// Gateways: creation shows the secret once; each owns a block of proxy addresses for its machines.
import { Hono, type Context as HonoContext } from "hono";
import { inScope, scopeOf } from "../../access/index.ts";
import { recordAuditAlone } from "../../audit/index.ts";
import { type EnrollmentBundle, issueEnrollmentBundle } from "../../gateways/index.ts";
import {
  createGateway,
  createMachine,
  deleteGateway,
  type Gateway,
  gatewayBlock,
  getGateway,
  listGateways,
  listMachines,
  rekeyGateway,
  renameGateway,
} from "../../masterdata/index.ts";
import type { WebEnv } from "../env.ts";
import { formFields } from "../forms.ts";
import { Breadcrumbs, Field, formatTime, Layout, Notice, PostForm } from "../views/layout.tsx";

/** A download of the bundle from the page itself (data: URL): the platform keeps no copy to serve. */
const BundleLink = ({ bundle }: { bundle: EnrollmentBundle }) => (
  <a
    class="button"
    hx-boost="false"
    download={bundle.fileName}
    href={`data:application/jose;base64,${Buffer.from(`${bundle.token}\n`).toString("base64")}`}
  >
    Download enrollment bundle
  </a>
);

export function gatewayRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/gateways", async (c) => {
    const ctx = c.get("ctx");
    const gateways = await listGateways(ctx);
    const pool = c.get("deps").proxyPool;
    return c.html(
      <Layout title="Gateways" csrfToken={c.get("csrfToken")} principal={ctx.caller.principal}>
        <h1>Gateways</h1>
        <p class="muted">Add a gateway on its site's page.</p>
        <table>
          <thead>
            <tr>
              <th>Gateway</th>
              <th>Site</th>
              <th>Customer</th>
              <th>Proxy block</th>
            </tr>
          </thead>
          <tbody>
            {gateways.map((g) => (
              <tr>
                <td>
                  <a href={`/gateways/${g.id}`}>{g.name}</a>
                </td>
                <td>{g.siteName}</td>
                <td>{g.customerName}</td>
                <td class="mono">{gatewayBlock(pool, g)}</td>
              </tr>
            ))}
            {gateways.length === 0 ? (
              <tr>
                <td colspan={4} class="muted">
                  No gateways yet.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </Layout>,
    );
  });

  /** The one answer that carries the secret and the bundle; nothing is stored to show them again. */
  const credentialsPage = async (
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
    });
    await recordAuditAlone(deps.db, deps.clock, {
      actor: ctx.caller.actor,
      action: "gateway.enrollment_bundle",
      target: { type: "gateway", id: gateway.id },
      customerId: gateway.customerId,
      detail: { version: bundle.version, expiresAt: bundle.expiresAt.toISOString() },
    });
    c.header("Cache-Control", "no-store");
    return c.html(
      <Layout title={gateway.name} csrfToken={c.get("csrfToken")} principal={ctx.caller.principal}>
        <Breadcrumbs
          items={[
            ["Gateways", "/gateways"],
            [gateway.name, `/gateways/${gateway.id}`],
          ]}
        />
        <h1>{created ? "Gateway created" : "Gateway re-keyed"}</h1>
        <div class="card">
          <Notice kind="warn">
            Download the enrollment bundle now and import it on the gateway (operator UI, or its
            import folder). It is offered only on this page
            {created ? "" : "; the previous secret and bundle no longer work"}.
          </Notice>
          <p>
            <BundleLink bundle={bundle} />
          </p>
          <dl>
            <dt>Gateway id</dt>
            <dd class="mono">{gateway.id}</dd>
            <dt>Bundle version</dt>
            <dd class="mono">{bundle.version}</dd>
            <dt>Import before</dt>
            <dd>{formatTime(bundle.expiresAt)}</dd>
            <dt>Secret</dt>
            <dd>
              <div class="secret">{secret}</div>
            </dd>
          </dl>
          <p>
            <a href={`/gateways/${gateway.id}`}>Continue to the gateway</a>
          </p>
        </div>
      </Layout>,
    );
  };

  app.post("/sites/:id/gateways", async (c) => {
    const deps = c.get("deps");
    const { gateway, secret } = await createGateway(
      c.get("ctx"),
      deps.proxyPool,
      c.req.param("id"),
      await formFields(c),
    );
    return credentialsPage(c, gateway, secret, true);
  });

  app.get("/gateways/:id", async (c) => {
    const ctx = c.get("ctx");
    const gateway = await getGateway(ctx, c.req.param("id"));
    const { machines } = await listMachines(ctx, { gatewayId: gateway.id, limit: 1000 });
    const canManage = inScope(
      scopeOf(ctx.caller.principal, "masterdata.manage"),
      gateway.customerId,
    );
    const csrf = c.get("csrfToken");
    return c.html(
      <Layout title={gateway.name} csrfToken={csrf} principal={ctx.caller.principal}>
        <Breadcrumbs
          items={[
            ["Customers", "/customers"],
            [gateway.customerName, `/customers/${gateway.customerId}`],
            [gateway.siteName, `/sites/${gateway.siteId}`],
            [gateway.name, null],
          ]}
        />
        <h1>{gateway.name}</h1>
        <div class="card">
          <dl>
            <dt>Gateway id</dt>
            <dd class="mono">{gateway.id}</dd>
            <dt>Proxy block</dt>
            <dd class="mono">{gatewayBlock(c.get("deps").proxyPool, gateway)}</dd>
          </dl>
        </div>
        <AgentCard gateway={gateway} now={c.get("deps").clock.now()} />

        {canManage ? (
          <div class="card">
            <PostForm action={`/gateways/${gateway.id}`} csrfToken={csrf} class="row">
              <Field label="Name" name="name" value={gateway.name} />
              <button type="submit" class="secondary">
                Rename
              </button>
            </PostForm>
          </div>
        ) : null}
        <h2>Machines</h2>
        {canManage ? (
          <div class="card">
            <PostForm action={`/gateways/${gateway.id}/machines`} csrfToken={csrf} class="row">
              <Field label="Machine name" name="name" placeholder="e.g. Press 7" />
              <Field label="LAN address" name="lanAddress" placeholder="192.168.0.10" />
              <button type="submit">Add machine</button>
            </PostForm>
          </div>
        ) : null}
        <table>
          <thead>
            <tr>
              <th>Machine</th>
              <th>LAN address</th>
              <th>Proxy address</th>
            </tr>
          </thead>
          <tbody>
            {machines.map((m) => (
              <tr>
                <td>
                  <a href={`/machines/${m.id}`}>{m.name}</a>
                </td>
                <td class="mono">{m.lanAddress}</td>
                <td class="mono">{m.proxyAddress}</td>
              </tr>
            ))}
            {machines.length === 0 ? (
              <tr>
                <td colspan={3} class="muted">
                  No machines yet.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
        {canManage ? (
          <div class="actions">
            <PostForm
              action={`/gateways/${gateway.id}/rekey`}
              csrfToken={csrf}
              confirm="The gateway's current secret and enrollment bundle stop working at once. Continue?"
            >
              <button type="submit" class="secondary">
                Re-key (new enrollment bundle)
              </button>
            </PostForm>
            <PostForm
              action={`/gateways/${gateway.id}/delete`}
              csrfToken={csrf}
              confirm={`Delete gateway ${gateway.name}?`}
            >
              <button type="submit" class="danger">
                Delete gateway
              </button>
            </PostForm>
          </div>
        ) : null}
      </Layout>,
    );
  });

  app.post("/gateways/:id", async (c) => {
    const id = c.req.param("id");
    await renameGateway(c.get("ctx"), id, await formFields(c));
    return c.redirect(`/gateways/${id}`, 303);
  });

  app.post("/gateways/:id/rekey", async (c) => {
    const ctx = c.get("ctx");
    const secret = await rekeyGateway(ctx, c.req.param("id"));
    return credentialsPage(c, await getGateway(ctx, c.req.param("id")), secret, false);
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

/** What the gateway's agent reported last over its control channel. */
function AgentCard(props: { gateway: Gateway; now: Date }) {
  const { lastSeenAt, agent } = props.gateway;
  if (!lastSeenAt || !agent)
    return (
      <div class="card">
        <p class="muted">The gateway has not reported yet: import its enrollment bundle there.</p>
      </div>
    );
  const ago = Math.round((props.now.getTime() - lastSeenAt.getTime()) / 1000);
  const reporting = ago <= 60;
  const offset = agent.clockOffsetMs / 1000;
  return (
    <div class="card">
      <h2>Gateway agent</h2>
      <dl>
        <dt>Last heartbeat</dt>
        <dd>
          <span class={`badge ${reporting ? "ok" : "failed"}`}>
            {reporting ? "reporting" : "silent"}
          </span>{" "}
          {ago} s ago, from <span class="mono">{agent.ip ?? "unknown address"}</span>
        </dd>
        <dt>State</dt>
        <dd>{agent.state}</dd>
        <dt>Versions</dt>
        <dd class="mono">
          agent {agent.agentVersion}, OpenVPN {agent.openvpnVersion ?? "not found"}
        </dd>
        <dt>Clock offset</dt>
        <dd class={Math.abs(offset) > 60 ? "error" : undefined}>
          {offset >= 0 ? "+" : ""}
          {offset.toFixed(1)} s against the platform
        </dd>
        {agent.lastError ? (
          <>
            <dt>Last error</dt>
            <dd class="error">{agent.lastError}</dd>
          </>
        ) : null}
      </dl>
    </div>
  );
}
