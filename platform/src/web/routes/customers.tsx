// Customers and their sites.
import { Hono } from "hono";
import { hasPermission, inScope, scopeOf } from "../../access/index.ts";
import {
  createCustomer,
  createSite,
  deleteCustomer,
  deleteSite,
  getCustomer,
  getSite,
  listCustomers,
  listGateways,
  listSites,
  renameCustomer,
  renameSite,
} from "../../masterdata/index.ts";
import type { WebEnv } from "../env.ts";
import { formFields } from "../forms.ts";
import { Breadcrumbs, Field, Layout, PostForm } from "../views/layout.tsx";

export function customerRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/customers", async (c) => {
    const ctx = c.get("ctx");
    const customers = await listCustomers(ctx, c.req.query("q") ?? "");
    const canCreate = hasPermission(ctx.caller.principal, "customers.manage");
    return c.html(
      <Layout title="Customers" csrfToken={c.get("csrfToken")} principal={ctx.caller.principal}>
        <h1>Customers</h1>
        {canCreate ? (
          <div class="card">
            <PostForm action="/customers" csrfToken={c.get("csrfToken")} class="row">
              <Field label="New customer" name="name" placeholder="Company name" />
              <button type="submit">Add customer</button>
            </PostForm>
          </div>
        ) : null}
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Since</th>
            </tr>
          </thead>
          <tbody>
            {customers.map((customer) => (
              <tr>
                <td>
                  <a href={`/customers/${customer.id}`}>{customer.name}</a>
                </td>
                <td>{customer.createdAt.toISOString().slice(0, 10)}</td>
              </tr>
            ))}
            {customers.length === 0 ? (
              <tr>
                <td colspan={2} class="muted">
                  No customers yet.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </Layout>,
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
      <Layout title={customer.name} csrfToken={csrf} principal={principal}>
        <Breadcrumbs
          items={[
            ["Customers", "/customers"],
            [customer.name, null],
          ]}
        />
        <h1>{customer.name}</h1>
        {canManageCustomers ? (
          <div class="card">
            <PostForm action={`/customers/${customer.id}`} csrfToken={csrf} class="row">
              <Field label="Name" name="name" value={customer.name} />
              <button type="submit" class="secondary">
                Rename
              </button>
            </PostForm>
          </div>
        ) : null}
        <h2>Sites</h2>
        {canManage ? (
          <div class="card">
            <PostForm action={`/customers/${customer.id}/sites`} csrfToken={csrf} class="row">
              <Field label="New site" name="name" placeholder="Plant or location" />
              <button type="submit">Add site</button>
            </PostForm>
          </div>
        ) : null}
        <table>
          <tbody>
            {sites.map((site) => (
              <tr>
                <td>
                  <a href={`/sites/${site.id}`}>{site.name}</a>
                </td>
              </tr>
            ))}
            {sites.length === 0 ? (
              <tr>
                <td class="muted">No sites yet.</td>
              </tr>
            ) : null}
          </tbody>
        </table>
        {canManageCustomers ? (
          <div class="actions">
            <PostForm
              action={`/customers/${customer.id}/delete`}
              csrfToken={csrf}
              confirm={`Delete customer ${customer.name}?`}
            >
              <button type="submit" class="danger">
                Delete customer
              </button>
            </PostForm>
          </div>
        ) : null}
      </Layout>,
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
    const canManage = inScope(scopeOf(ctx.caller.principal, "masterdata.manage"), site.customerId);
    const csrf = c.get("csrfToken");
    return c.html(
      <Layout title={site.name} csrfToken={csrf} principal={ctx.caller.principal}>
        <Breadcrumbs
          items={[
            ["Customers", "/customers"],
            [site.customerName, `/customers/${site.customerId}`],
            [site.name, null],
          ]}
        />
        <h1>{site.name}</h1>
        {canManage ? (
          <div class="card">
            <PostForm action={`/sites/${site.id}`} csrfToken={csrf} class="row">
              <Field label="Name" name="name" value={site.name} />
              <button type="submit" class="secondary">
                Rename
              </button>
            </PostForm>
          </div>
        ) : null}
        <h2>Gateways</h2>
        {canManage ? (
          <div class="card">
            <PostForm action={`/sites/${site.id}/gateways`} csrfToken={csrf} class="row">
              <Field label="New gateway" name="name" placeholder="e.g. Hall 3 line A" />
              <button type="submit">Add gateway</button>
            </PostForm>
          </div>
        ) : null}
        <table>
          <tbody>
            {gateways.map((gateway) => (
              <tr>
                <td>
                  <a href={`/gateways/${gateway.id}`}>{gateway.name}</a>
                </td>
              </tr>
            ))}
            {gateways.length === 0 ? (
              <tr>
                <td class="muted">No gateways yet.</td>
              </tr>
            ) : null}
          </tbody>
        </table>
        {canManage ? (
          <div class="actions">
            <PostForm
              action={`/sites/${site.id}/delete`}
              csrfToken={csrf}
              confirm={`Delete site ${site.name}?`}
            >
              <button type="submit" class="danger">
                Delete site
              </button>
            </PostForm>
          </div>
        ) : null}
      </Layout>,
    );
  });

  app.post("/sites/:id", async (c) => {
    const id = c.req.param("id");
    await renameSite(c.get("ctx"), id, await formFields(c));
    return c.redirect(`/sites/${id}`, 303);
  });

  app.post("/sites/:id/delete", async (c) => {
    const site = await getSite(c.get("ctx"), c.req.param("id"));
    await deleteSite(c.get("ctx"), site.id);
    return c.redirect(`/customers/${site.customerId}`, 303);
  });

  return app;
}
