// Machines: the searchable list, the machine file, and its services.
import { Hono, type Context as HonoContext } from "hono";
import { inScope, scopeOf } from "../../access/index.ts";
import {
  createService,
  deleteMachine,
  deleteService,
  getMachine,
  getService,
  listMachines,
  listServices,
  setServiceEnabled,
  updateMachine,
} from "../../masterdata/index.ts";
import type { WebEnv } from "../env.ts";
import { formFields } from "../forms.ts";
import { remoteAccessCard } from "../remote-access.tsx";
import {
  DataTable,
  DeleteActions,
  FormCard,
  PortalPage,
  RenameCard,
  Table,
  treeCrumbs,
} from "../views/components.tsx";
import { Field } from "../views/layout.tsx";
import { MACHINES_PAGE, MachineRows, NewServiceFields, ServiceRow } from "../views/machines.tsx";

async function machinePage(c: HonoContext<WebEnv>) {
  const q = (c.req.query("q") ?? "").slice(0, 100);
  const asked = Math.max(0, Math.min(10_000, Number.parseInt(c.req.query("page") ?? "0", 10) || 0));
  const pageAt = (page: number) =>
    listMachines(c.get("ctx"), { search: q, limit: MACHINES_PAGE, offset: page * MACHINES_PAGE });
  const result = await pageAt(asked);
  // Past the end (an old link, an edited address): the last page, not "no machines" beside a count.
  const last = Math.max(0, Math.ceil(result.total / MACHINES_PAGE) - 1);
  if (asked > last) return { q, page: last, ...(await pageAt(last)) };
  return { q, page: asked, ...result };
}

export function machineRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/", (c) => c.redirect("/machines", 303));

  app.get("/machines", async (c) => {
    const { q, page, machines, total } = await machinePage(c);
    return c.html(
      <PortalPage
        title="Machines"
        csrfToken={c.get("csrfToken")}
        principal={c.get("ctx").caller.principal}
      >
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
        <Table head={["Machine", "Proxy address", "Customer", "Site", "Gateway"]}>
          <MachineRows machines={machines} total={total} page={page} q={q} />
        </Table>
      </PortalPage>,
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
      <PortalPage
        title={machine.name}
        csrfToken={csrf}
        principal={ctx.caller.principal}
        crumbs={treeCrumbs(machine.name, machine)}
      >
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
          <RenameCard
            action={`/machines/${machine.id}`}
            csrfToken={csrf}
            name={machine.name}
            submit="Save"
          >
            <Field label="LAN address" name="lanAddress" value={machine.lanAddress} />
          </RenameCard>
        ) : null}
        <h2>Services</h2>
        {canManage ? (
          <FormCard
            action={`/machines/${machine.id}/services`}
            csrfToken={csrf}
            submit="Add service"
          >
            <NewServiceFields />
          </FormCard>
        ) : null}
        <DataTable
          head={["Service", "Port", "State", ""]}
          rows={services}
          row={(s) => <ServiceRow service={s} canManage={canManage} csrf={csrf} />}
          empty="No services yet: nothing of this machine can be reached."
        />
        {canManage ? (
          <DeleteActions
            action={`/machines/${machine.id}/delete`}
            csrfToken={csrf}
            what="machine"
            name={machine.name}
          />
        ) : null}
      </PortalPage>,
    );
  });

  app.post("/machines/:id", async (c) => {
    const id = c.req.param("id");
    await updateMachine(c.get("ctx"), c.get("deps").proxyPool, id, await formFields(c));
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
