// Maintenance windows in the portal: a gateway's windows (list, create, cancel) for customer
// approvers where the site allows it, and the site's window settings for customer admins.
import { and, eq, inArray } from "drizzle-orm";
import { Hono, type Context as HonoContext } from "hono";
import { machines, roleAssignments, services, sites, users } from "../../db/index.ts";
import { getGateway, setWindowPolicy } from "../../masterdata/index.ts";
import { MaintenanceWindows } from "../../sessions/index.ts";
import type { WebEnv } from "../env.ts";
import { formFields } from "../forms.ts";
import { WindowsPage, WindowsTable } from "../views/windows.tsx";

/** The checked boxes `<prefix>.<id>` of a form, as ids. */
function ticked(form: Record<string, string>, prefix: string): string[] {
  return Object.keys(form)
    .filter((k) => k.startsWith(`${prefix}.`))
    .map((k) => k.slice(prefix.length + 1));
}

/** What the windows page shows for a gateway the caller may read (404 otherwise). */
async function windowsOf(c: HonoContext<WebEnv>, gatewayId: string) {
  const ctx = c.get("ctx");
  const { db, access, clock } = c.get("deps");
  const gateway = await getGateway(ctx, gatewayId);
  const windows = await access.windows.list(ctx, gateway.id);
  const technicians = await db
    .selectDistinct({ id: users.id, name: users.displayName })
    .from(roleAssignments)
    .innerJoin(users, eq(users.id, roleAssignments.userId))
    .where(
      and(
        eq(roleAssignments.role, "technician"),
        eq(roleAssignments.customerId, gateway.customerId),
      ),
    );
  const enabled = await db
    .select({ id: services.id, name: services.name, machine: machines.name })
    .from(services)
    .innerJoin(machines, eq(machines.id, services.machineId))
    .where(and(eq(machines.gatewayId, gateway.id), eq(services.enabled, true)));
  const named = windows.flatMap((w) => w.technicianIds);
  const names: Record<string, string> = {};
  for (const s of enabled) names[s.id] = `${s.machine}: ${s.name}`;
  if (named.length)
    for (const u of await db
      .select({ id: users.id, name: users.displayName })
      .from(users)
      .where(inArray(users.id, named)))
      names[u.id] = u.name;
  const [site] = await db.select().from(sites).where(eq(sites.id, gateway.siteId));
  const approver = MaintenanceWindows.mayManage(ctx.caller.principal, gateway);
  const whyNot = !approver
    ? "Only a customer admin of this customer, or an operator of its site, creates windows in the portal."
    : site?.windowCreators !== "operator_and_customer"
      ? "At this site only the operator creates maintenance windows, on the gateway's screen (a customer admin can change that on the site's page)."
      : null;
  return {
    gateway,
    approver,
    whyNot,
    technicians,
    services: enabled.map((s) => ({ id: s.id, name: `${s.machine}: ${s.name}` })),
    table: {
      gatewayId: gateway.id,
      windows,
      names,
      now: clock.now(),
      canCancel: approver,
      csrfToken: c.get("csrfToken"),
    },
  };
}

export function windowRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/gateways/:id/windows", async (c) => {
    const v = await windowsOf(c, c.req.param("id"));
    return c.html(
      <WindowsPage
        gateway={v.gateway}
        table={v.table}
        mayCreate={v.whyNot === null}
        whyNot={v.whyNot}
        technicians={v.technicians}
        services={v.services}
        principal={c.get("ctx").caller.principal}
        csrfToken={c.get("csrfToken")}
      />,
    );
  });

  /** The fragment the windows page polls. */
  app.get("/gateways/:id/windows/list", async (c) => {
    const v = await windowsOf(c, c.req.param("id"));
    return c.html(<WindowsTable {...v.table} />);
  });

  app.post("/gateways/:id/windows", async (c) => {
    const form = await formFields(c);
    const window = await c
      .get("deps")
      .access.windows.createInPortal(c.get("ctx"), c.req.param("id"), {
        start: form.start,
        end: form.end,
        weekly: form.weekly ?? "",
        technicians: ticked(form, "technician"),
        services: ticked(form, "service"),
        mode: form.mode || undefined,
        reason: form.reason,
      });
    return c.redirect(`/gateways/${window.gatewayId}/windows?created=${window.id}`, 303);
  });

  app.post("/gateways/:id/windows/:window/cancel", async (c) => {
    const done = await c
      .get("deps")
      .access.windows.cancelInPortal(c.get("ctx"), c.req.param("id"), c.req.param("window"));
    return c.redirect(
      `/gateways/${done.window.gatewayId}/windows?cancel=${done.outcome}&ended=${done.ended}`,
      303,
    );
  });

  /** A site's window settings (customer admins; audited). */
  app.post("/sites/:id/windows", async (c) => {
    const id = c.req.param("id");
    await setWindowPolicy(c.get("ctx"), id, await formFields(c));
    return c.redirect(`/sites/${id}`, 303);
  });

  return app;
}
