// Customers and their sites.
import { Hono } from "hono";
import { hasPermission, inScope, scopeOf } from "../../access/index.ts";
import {
  createCustomer,
  createSite,
  customerVersion,
  deleteCustomer,
  deleteSite,
  getCustomer,
  getSite,
  listCustomers,
  listGateways,
  listSites,
  renameCustomer,
  renameSite,
  setConsentPolicy,
  siteVersion,
} from "../../masterdata/index.ts";
import type { WebEnv } from "../env.ts";
import { formFields } from "../forms.ts";
import { reachOf } from "../remote-access.tsx";
import {
  DeleteActions,
  FormCard,
  LinkTable,
  PortalPage,
  RenameCard,
  SelectField,
  trail,
  treeCrumbs,
} from "../views/components.tsx";
import { ConsentCard } from "../views/consent.tsx";
import { NameField, Time } from "../views/layout.tsx";
import { ReachCell } from "../views/reach.tsx";
import { WindowPolicyCard } from "../views/windows.tsx";

export function customerRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/customers", async (c) => {
    const ctx = c.get("ctx");
    const customers = await listCustomers(ctx, c.req.query("q") ?? "");
    const canCreate = hasPermission(ctx.caller.principal, "customers.manage");
    return c.html(
      <PortalPage title="Customers" csrfToken={c.get("csrfToken")} principal={ctx.caller.principal}>
        {canCreate ? (
          <FormCard action="/customers" csrfToken={c.get("csrfToken")} submit="Add customer">
            <NameField label="New customer" placeholder="Company name" />
          </FormCard>
        ) : null}
        <LinkTable
          base="/customers"
          items={customers}
          head={["Name", "Since"]}
          cells={(customer) => (
            <td>
              <Time at={customer.createdAt} />
            </td>
          )}
          empty={
            canCreate
              ? "No customers yet. Add the first one above: the company whose machines are maintained."
              : "No customers to show: a platform admin gives you a role for a customer."
          }
        />
      </PortalPage>,
    );
  });

  app.post("/customers", async (c) => {
    const customer = await createCustomer(c.get("ctx"), await formFields(c));
    return c.redirect(`/customers/${customer.id}`, 303);
  });

  app.get("/customers/:id", async (c) => {
    const ctx = c.get("ctx");
    const customer = await getCustomer(ctx, c.req.param("id"));
    const sites = await listSites(ctx, { customerId: customer.id });
    const principal = ctx.caller.principal;
    const canManage = inScope(scopeOf(principal, "masterdata.manage"), customer.id);
    const canManageCustomers = hasPermission(principal, "customers.manage");
    const csrf = c.get("csrfToken");
    return c.html(
      <PortalPage
        title={customer.name}
        csrfToken={csrf}
        principal={principal}
        crumbs={trail(customer.name, ["Customers", "/customers"])}
      >
        {canManageCustomers ? (
          <RenameCard
            action={`/customers/${customer.id}`}
            csrfToken={csrf}
            name={customer.name}
            version={customerVersion(customer)}
          />
        ) : null}
        <h2>Sites</h2>
        {canManage ? (
          <FormCard action={`/customers/${customer.id}/sites`} csrfToken={csrf} submit="Add site">
            <NameField label="New site" placeholder="Plant or location" />
          </FormCard>
        ) : null}
        <LinkTable
          base="/sites"
          items={sites}
          head={["Site"]}
          empty={
            canManage
              ? "No sites yet. Add the plant where the gateway stands above."
              : "No sites yet: the customer's admin or a platform admin adds them."
          }
        />
        {canManageCustomers ? (
          <DeleteActions
            action={`/customers/${customer.id}/delete`}
            csrfToken={csrf}
            what="customer"
            name={customer.name}
          />
        ) : null}
      </PortalPage>,
    );
  });

  app.post("/customers/:id", async (c) => {
    const customer = await renameCustomer(c.get("ctx"), c.req.param("id"), await formFields(c));
    return c.redirect(`/customers/${customer.id}`, 303);
  });

  app.post("/customers/:id/delete", async (c) => {
    await deleteCustomer(c.get("ctx"), c.req.param("id"));
    return c.redirect("/customers", 303);
  });

  app.post("/customers/:id/sites", async (c) => {
    const site = await createSite(c.get("ctx"), c.req.param("id"), await formFields(c));
    return c.redirect(`/sites/${site.id}`, 303);
  });

  app.get("/sites/:id", async (c) => {
    const ctx = c.get("ctx");
    const site = await getSite(ctx, c.req.param("id"));
    const gateways = await listGateways(ctx, { siteId: site.id });
    const reach = await reachOf(
      c,
      gateways.map((g) => g.id),
    );
    const canManage = inScope(scopeOf(ctx.caller.principal, "masterdata.manage"), site.customerId);
    const csrf = c.get("csrfToken");
    return c.html(
      <PortalPage
        title={site.name}
        csrfToken={csrf}
        principal={ctx.caller.principal}
        crumbs={treeCrumbs(site.name, site)}
      >
        {canManage ? (
          <RenameCard
            action={`/sites/${site.id}`}
            csrfToken={csrf}
            name={site.name}
            version={siteVersion(site)}
          />
        ) : null}
        <ConsentCard
          site={site}
          platformMaxMinutes={Math.floor(c.get("deps").access.remoteSessionSeconds / 60)}
          canManage={canManage}
          csrfToken={csrf}
        />
        <WindowPolicyCard site={site} canManage={canManage} csrfToken={csrf} />
        <h2>Gateways</h2>
        {canManage ? (
          <FormCard action={`/sites/${site.id}/gateways`} csrfToken={csrf} submit="Add gateway">
            <NameField label="New gateway" placeholder="e.g. Hall 3 line A" />
            <SelectField
              label="Kind"
              name="kind"
              options={[
                ["connect", "Connect gateway (appliance or container at the machines)"],
                ["workstation", "Workstation (a plant PC that connects itself)"],
              ]}
            />
          </FormCard>
        ) : null}
        <LinkTable
          base="/gateways"
          items={gateways}
          head={["Gateway", "State"]}
          cells={(g) => {
            const state = reach.get(g.id);
            return state ? <ReachCell reach={state} /> : <td />;
          }}
          empty={
            canManage
              ? "No gateways yet. Add one above; you get its enrollment bundle to import at the gateway."
              : "No gateways yet: the customer's admin or a platform admin adds them."
          }
        />
        {canManage ? (
          <DeleteActions
            action={`/sites/${site.id}/delete`}
            csrfToken={csrf}
            what="site"
            name={site.name}
          />
        ) : null}
      </PortalPage>,
    );
  });

  app.post("/sites/:id", async (c) => {
    const id = c.req.param("id");
    await renameSite(c.get("ctx"), id, await formFields(c));
    return c.redirect(`/sites/${id}`, 303);
  });

  app.post("/sites/:id/consent", async (c) => {
    const id = c.req.param("id");
    await setConsentPolicy(c.get("ctx"), id, await formFields(c));
    return c.redirect(`/sites/${id}`, 303);
  });

  app.post("/sites/:id/delete", async (c) => {
    const site = await getSite(c.get("ctx"), c.req.param("id"));
    await deleteSite(c.get("ctx"), site.id);
    return c.redirect(`/customers/${site.customerId}`, 303);
  });

  return app;
}
