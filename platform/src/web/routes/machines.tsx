// Machines: the searchable list, the machine file, and its services.
import { Hono, type Context as HonoContext } from "hono";
import type { FC } from "hono/jsx";
import { inScope, scopeOf } from "../../access/index.ts";
import {
  createService,
  deleteMachine,
  deleteService,
  getMachine,
  getService,
  listMachines,
  listServices,
  type Machine,
  type Service,
  setServiceEnabled,
  updateMachine,
} from "../../masterdata/index.ts";
import type { WebEnv } from "../env.ts";
import { formFields } from "../forms.ts";
import { Breadcrumbs, Field, Layout, PostForm } from "../views/layout.tsx";
import { remoteAccessCard } from "./sessions.tsx";

const PAGE = 50;

const MachineRows: FC<{ machines: Machine[]; total: number; page: number; q: string }> = ({
  machines,
  total,
  page,
  q,
}) => (
  <tbody id="machine-rows">
    {machines.map((m) => (
      <tr>
        <td>
          <a href={`/machines/${m.id}`}>{m.name}</a>
        </td>
        <td class="mono">{m.proxyAddress}</td>
        <td>{m.customerName}</td>
        <td>{m.siteName}</td>
        <td>{m.gatewayName}</td>
      </tr>
    ))}
    {machines.length === 0 ? (
      <tr>
        <td colspan={5} class="muted">
          {q ? "No machine matches." : "No machines yet. Add them on a gateway's page."}
        </td>
      </tr>
    ) : null}
    <tr>
      <td colspan={5} class="muted">
        {total} machine{total === 1 ? "" : "s"}
        {total > PAGE ? ` · page ${page + 1} of ${Math.ceil(total / PAGE)}` : ""}
        {page > 0 ? (
          <>
            {" · "}
            <a href={`/machines?q=${encodeURIComponent(q)}&page=${page - 1}`}>previous</a>
          </>
        ) : null}
        {(page + 1) * PAGE < total ? (
          <>
            {" · "}
            <a href={`/machines?q=${encodeURIComponent(q)}&page=${page + 1}`}>next</a>
          </>
        ) : null}
      </td>
    </tr>
  </tbody>
);

async function machinePage(c: HonoContext<WebEnv>) {
  const q = (c.req.query("q") ?? "").slice(0, 100);
  const page = Math.max(0, Math.min(10_000, Number.parseInt(c.req.query("page") ?? "0", 10) || 0));
  const result = await listMachines(c.get("ctx"), { search: q, limit: PAGE, offset: page * PAGE });
  return { q, page, ...result };
}

const ServiceRow: FC<{ service: Service; canManage: boolean; csrf: string }> = ({
  service,
  canManage,
  csrf,
}) => (
  <tr id={`service-${service.id}`}>
    <td>{service.name}</td>
    <td class="mono">
      {service.protocol}/{service.port}
    </td>
    <td>
      {canManage ? (
        <form
          method="post"
          action={`/services/${service.id}/enabled`}
          hx-post={`/services/${service.id}/enabled`}
          hx-target={`#service-${service.id}`}
          hx-swap="outerHTML"
        >
          <input type="hidden" name="_csrf" value={csrf} />
          <input type="hidden" name="enabled" value={service.enabled ? "false" : "true"} />
          <button type="submit" class={service.enabled ? "secondary" : ""}>
            {service.enabled ? "Enabled — disable" : "Disabled — enable"}
          </button>
        </form>
      ) : service.enabled ? (
        "enabled"
      ) : (
        "disabled"
      )}
    </td>
    <td>
      {canManage ? (
        <PostForm
          action={`/services/${service.id}/delete`}
          csrfToken={csrf}
          confirm={`Delete service ${service.name}?`}
        >
          <button type="submit" class="link">
            delete
          </button>
        </PostForm>
      ) : null}
    </td>
  </tr>
);

export function machineRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/", (c) => c.redirect("/machines", 303));

  app.get("/machines", async (c) => {
    const { q, page, machines, total } = await machinePage(c);
    return c.html(
      <Layout
        title="Machines"
        csrfToken={c.get("csrfToken")}
        principal={c.get("ctx").caller.principal}
      >
        <h1>Machines</h1>
        <form method="get" action="/machines" class="row">
          <label>
            <span>Search</span>
            <input
              type="search"
              name="q"
              value={q}
              placeholder="name, address, site or customer"
              hx-get="/machines/rows"
              hx-trigger="input changed delay:300ms, search"
              hx-target="#machine-rows"
              hx-swap="outerHTML"
            />
          </label>
          <button type="submit" class="secondary">
            Search
          </button>
        </form>
        <table>
          <thead>
            <tr>
              <th>Machine</th>
              <th>Proxy address</th>
              <th>Customer</th>
              <th>Site</th>
              <th>Gateway</th>
            </tr>
          </thead>
          <MachineRows machines={machines} total={total} page={page} q={q} />
        </table>
      </Layout>,
    );
  });

  app.get("/machines/rows", async (c) => {
    const { q, page, machines, total } = await machinePage(c);
    return c.html(<MachineRows machines={machines} total={total} page={page} q={q} />);
  });

  app.get("/machines/:id", async (c) => {
    const ctx = c.get("ctx");
    const machine = await getMachine(ctx, c.req.param("id"));
    const services = await listServices(ctx, machine.id);
    const remoteAccess = await remoteAccessCard(c, machine);
    const canManage = inScope(
      scopeOf(ctx.caller.principal, "masterdata.manage"),
      machine.customerId,
    );
    const csrf = c.get("csrfToken");
    return c.html(
      <Layout title={machine.name} csrfToken={csrf} principal={ctx.caller.principal}>
        <Breadcrumbs
          items={[
            ["Customers", "/customers"],
            [machine.customerName, `/customers/${machine.customerId}`],
            [machine.siteName, `/sites/${machine.siteId}`],
            [machine.gatewayName, `/gateways/${machine.gatewayId}`],
            [machine.name, null],
          ]}
        />
        <h1>{machine.name}</h1>
        <div class="card">
          <dl>
            <dt>Proxy address</dt>
            <dd class="mono">{machine.proxyAddress}</dd>
            <dt>LAN address</dt>
            <dd class="mono">{machine.lanAddress}</dd>
            <dt>Gateway</dt>
            <dd>
              <a href={`/gateways/${machine.gatewayId}`}>{machine.gatewayName}</a>
            </dd>
          </dl>
        </div>
        {remoteAccess}
        {canManage ? (
          <div class="card">
            <PostForm action={`/machines/${machine.id}`} csrfToken={csrf} class="row">
              <Field label="Name" name="name" value={machine.name} />
              <Field label="LAN address" name="lanAddress" value={machine.lanAddress} />
              <button type="submit" class="secondary">
                Save
              </button>
            </PostForm>
          </div>
        ) : null}
        <h2>Services</h2>
        {canManage ? (
          <div class="card">
            <PostForm action={`/machines/${machine.id}/services`} csrfToken={csrf} class="row">
              <Field label="Service" name="name" placeholder="e.g. Web UI" />
              <label>
                <span>Protocol</span>
                <select name="protocol">
                  <option value="tcp">TCP</option>
                  <option value="udp">UDP</option>
                </select>
              </label>
              <Field label="Port" name="port" type="number" placeholder="443" />
              <label class="check">
                <input type="checkbox" name="enabled" checked />
                <span>enabled</span>
              </label>
              <button type="submit">Add service</button>
            </PostForm>
          </div>
        ) : null}
        <table>
          <thead>
            <tr>
              <th>Service</th>
              <th>Port</th>
              <th>State</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {services.map((s) => (
              <ServiceRow service={s} canManage={canManage} csrf={csrf} />
            ))}
            {services.length === 0 ? (
              <tr>
                <td colspan={4} class="muted">
                  No services yet: nothing of this machine can be reached.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
        {canManage ? (
          <div class="actions">
            <PostForm
              action={`/machines/${machine.id}/delete`}
              csrfToken={csrf}
              confirm={`Delete machine ${machine.name}?`}
            >
              <button type="submit" class="danger">
                Delete machine
              </button>
            </PostForm>
          </div>
        ) : null}
      </Layout>,
    );
  });

  app.post("/machines/:id", async (c) => {
    const id = c.req.param("id");
    await updateMachine(c.get("ctx"), id, await formFields(c));
    return c.redirect(`/machines/${id}`, 303);
  });

  app.post("/machines/:id/delete", async (c) => {
    const machine = await getMachine(c.get("ctx"), c.req.param("id"));
    await deleteMachine(c.get("ctx"), machine.id);
    return c.redirect(`/gateways/${machine.gatewayId}`, 303);
  });

  app.post("/machines/:id/services", async (c) => {
    const id = c.req.param("id");
    await createService(c.get("ctx"), id, await formFields(c));
    return c.redirect(`/machines/${id}`, 303);
  });

  app.post("/services/:id/enabled", async (c) => {
    const ctx = c.get("ctx");
    const form = await formFields(c);
    const service = await setServiceEnabled(ctx, c.req.param("id"), form.enabled === "true");
    if (c.req.header("hx-request")) {
      return c.html(<ServiceRow service={service} canManage csrf={c.get("csrfToken")} />);
    }
    return c.redirect(`/machines/${service.machineId}`, 303);
  });

  app.post("/services/:id/delete", async (c) => {
    const service = await getService(c.get("ctx"), c.req.param("id"));
    await deleteService(c.get("ctx"), service.id);
    return c.redirect(`/machines/${service.machineId}`, 303);
  });

  return app;
}
