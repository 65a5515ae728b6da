// Machines: the searchable list (with where each gateway stands), the machine file, its services.
import { Hono, type Context as HonoContext } from "hono";
import { hasPermission, inScope, scopeOf } from "../../access/index.ts";
import {
  createService,
  deleteMachine,
  deleteService,
  gatewayAgentOf,
  getMachine,
  getService,
  listMachines,
  listServices,
  machineVersion,
  setServiceEnabled,
  setServiceMode,
  setupProgress,
  updateMachine,
} from "../../masterdata/index.ts";
import type { WebEnv } from "../env.ts";
import { formFields } from "../forms.ts";
import { reachOf, remoteAccessCard } from "../remote-access.tsx";
import {
  DataTable,
  DeleteActions,
  FormCard,
  PortalPage,
  RenameCard,
  Table,
  treeCrumbs,
} from "../views/components.tsx";
import { FirstRunGuide, setupDone } from "../views/first-run.tsx";
import { Notice, Token } from "../views/layout.tsx";
import {
  LanAddressField,
  MACHINE_COLUMNS,
  MACHINES_PAGE,
  MachineRows,
  NewServiceFields,
  ServiceRow,
} from "../views/machines.tsx";

async function machinePage(c: HonoContext<WebEnv>) {
  const q = (c.req.query("q") ?? "").slice(0, 100);
  const asked = Math.max(0, Math.min(10_000, Number.parseInt(c.req.query("page") ?? "0", 10) || 0));
  const pageAt = (page: number) =>
    listMachines(c.get("ctx"), { search: q, limit: MACHINES_PAGE, offset: page * MACHINES_PAGE });
  const firstTry = await pageAt(asked);
  // Past the end (an old link, an edited address): the last page, not "no machines" beside a count.
  const last = Math.max(0, Math.ceil(firstTry.total / MACHINES_PAGE) - 1);
  const page = Math.min(asked, last);
  const result = page === asked ? firstTry : await pageAt(page);
  const reach = await reachOf(
    c,
    result.machines.map((m) => m.gatewayId),
  );
  const principal = c.get("ctx").caller.principal;
  // What to do when there is nothing, in the reader's role: only managers are told to add.
  const empty = hasPermission(principal, "masterdata.manage")
    ? "No machines yet. Add one on its gateway's page (Customers → site → gateway); the guide above shows the way."
    : "No machines to show: you see the machines of your customers once an admin has added them.";
  return { q, page, reach, empty, ...result };
}

export function machineRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/", (c) => c.redirect("/machines", 303));

  app.get("/machines", async (c) => {
    const ctx = c.get("ctx");
    const principal = ctx.caller.principal;
    const { q, page, machines, total, reach, empty } = await machinePage(c);
    const progress = hasPermission(principal, "masterdata.manage")
      ? await setupProgress(ctx)
      : null;
    return c.html(
      <PortalPage title="Machines" csrfToken={c.get("csrfToken")} principal={principal}>
        {progress && !setupDone(progress, principal) ? (
          <FirstRunGuide progress={progress} principal={principal} />
        ) : null}
        <form method="get" action="/machines" class="row">
          <label>
            <span>Search</span>
            <input
              type="search"
              name="q"
              value={q}
              maxlength={100}
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
        <Table head={MACHINE_COLUMNS} label="Machines">
          <MachineRows
            machines={machines}
            reach={reach}
            total={total}
            page={page}
            q={q}
            empty={empty}
          />
        </Table>
      </PortalPage>,
    );
  });

  app.get("/machines/rows", async (c) => {
    const { q, page, machines, total, reach, empty } = await machinePage(c);
    return c.html(
      <MachineRows
        machines={machines}
        reach={reach}
        total={total}
        page={page}
        q={q}
        empty={empty}
      />,
    );
  });

  app.get("/machines/:id", async (c) => {
    const ctx = c.get("ctx");
    const machine = await getMachine(ctx, c.req.param("id"));
    const services = await listServices(ctx, machine.id);
    const remoteAccess = await remoteAccessCard(c, machine);
    const agent = await gatewayAgentOf(ctx, machine);
    // An agent that reported without the filter never gets a read-only service (fail closed).
    const unfiltered =
      services.some((s) => s.mode === "modbus-read-only") &&
      agent !== null &&
      !(agent.capabilities ?? []).includes("modbus-read-only");
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
            <dd class="mono">
              <Token>{machine.proxyAddress}</Token>
            </dd>
            <dt>LAN address</dt>
            <dd class="mono">
              {machine.lanAddress === null ? (
                "— a workstation: the PC itself, through its own tunnel"
              ) : (
                <Token>{machine.lanAddress}</Token>
              )}
            </dd>
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
            version={machineVersion(machine)}
            submit="Save"
          >
            {machine.lanAddress === null ? null : <LanAddressField value={machine.lanAddress} />}
          </RenameCard>
        ) : null}
        <h2>Services</h2>
        {unfiltered ? (
          <Notice kind="warn">
            The gateway's agent (version {agent?.agentVersion}) cannot filter Modbus: its read-only
            services stay closed to technicians until the agent is updated.
          </Notice>
        ) : null}
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
          head={["Service", "Port", "Access", "State", ""]}
          rows={services}
          row={(s) => <ServiceRow service={s} canManage={canManage} csrf={csrf} />}
          empty={
            canManage
              ? "No services yet: nothing of this machine can be reached. Add the ports a technician may use above."
              : "No services yet: nothing of this machine can be reached until an admin adds them."
          }
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

  app.post("/services/:id/mode", async (c) => {
    const ctx = c.get("ctx");
    const form = await formFields(c);
    const service = await setServiceMode(ctx, c.req.param("id"), form.mode);
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
