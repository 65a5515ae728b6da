// /api/v1 master data: customers, sites, gateways, machines, services — each call goes through
// the same domain functions (scope, validation, audit) as the portal.
import { createRoute, z } from "@hono/zod-openapi";
import { formatCidr } from "@meetpoint/common";
import {
  blockOf,
  createCustomer,
  createGateway,
  createMachine,
  createService,
  createSite,
  deleteCustomer,
  deleteGateway,
  deleteMachine,
  deleteService,
  deleteSite,
  getCustomer,
  getGateway,
  getMachine,
  getService,
  getSite,
  listCustomers,
  listGateways,
  listMachines,
  listServices,
  listSites,
  type ProxyPool,
  renameCustomer,
  renameGateway,
  renameSite,
  updateMachine,
  updateService,
} from "../masterdata/index.ts";
import type { ApiApp } from "./app.ts";
import { Deleted, errors, json, needs, wire } from "./respond.ts";
import {
  CustomerSchema,
  GatewaySchema,
  IdParam,
  MachineInput,
  MachinePage,
  MachinePatch,
  MachineQuery,
  MachineSchema,
  NameInput,
  NamePatch,
  NewGatewaySchema,
  ServiceInput,
  ServicePatch,
  ServiceSchema,
  SiteSchema,
} from "./schemas.ts";

/** A gateway as the API shows it: its proxy block as the CIDR the portal shows, not an index. */
function gatewayJson<G extends { proxyBlock: number }>(pool: ProxyPool, gateway: G) {
  return { ...gateway, proxyBlock: formatCidr(blockOf(pool, gateway.proxyBlock)) };
}

const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});

export function masterDataRoutes(api: ApiApp): void {
  const tags = (name: string) => [name];

  // Customers
  api.openapi(
    createRoute({
      method: "get",
      path: "/customers",
      tags: tags("customers"),
      request: { query: z.object({ q: z.string().max(100).optional() }) },
      responses: {
        200: json(z.array(CustomerSchema), "customers the token may read"),
        ...errors(400),
      },
    }),
    async (c) => c.json(wire(await listCustomers(c.get("ctx"), c.req.valid("query").q ?? "")), 200),
  );
  api.openapi(
    createRoute({
      method: "post",
      path: "/customers",
      ...needs("customers.manage"),
      tags: tags("customers"),
      request: body(NameInput),
      responses: { 201: json(CustomerSchema, "created"), ...errors(400, 403, 409) },
    }),
    async (c) => c.json(wire(await createCustomer(c.get("ctx"), c.req.valid("json"))), 201),
  );
  api.openapi(
    createRoute({
      method: "get",
      path: "/customers/{id}",
      tags: tags("customers"),
      request: { params: IdParam },
      responses: { 200: json(CustomerSchema, "the customer"), ...errors(400, 404) },
    }),
    async (c) => c.json(wire(await getCustomer(c.get("ctx"), c.req.valid("param").id)), 200),
  );
  api.openapi(
    createRoute({
      method: "patch",
      path: "/customers/{id}",
      ...needs("customers.manage"),
      tags: tags("customers"),
      request: { params: IdParam, ...body(NamePatch) },
      responses: { 200: json(CustomerSchema, "renamed"), ...errors(400, 403, 404, 409) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const before = await getCustomer(c.get("ctx"), id);
      const patch = { name: before.name, ...c.req.valid("json") };
      return c.json(wire(await renameCustomer(c.get("ctx"), id, patch)), 200);
    },
  );
  api.openapi(
    createRoute({
      method: "delete",
      path: "/customers/{id}",
      ...needs("customers.manage"),
      tags: tags("customers"),
      request: { params: IdParam },
      responses: { 200: json(Deleted, "deleted"), ...errors(400, 403, 404, 409) },
    }),
    async (c) => {
      await deleteCustomer(c.get("ctx"), c.req.valid("param").id);
      return c.json({ deleted: true as const }, 200);
    },
  );

  // Sites
  api.openapi(
    createRoute({
      method: "get",
      path: "/sites",
      tags: tags("sites"),
      request: { query: z.object({ customerId: z.uuid().optional() }) },
      responses: { 200: json(z.array(SiteSchema), "sites"), ...errors(400) },
    }),
    async (c) => c.json(wire(await listSites(c.get("ctx"), c.req.valid("query"))), 200),
  );
  api.openapi(
    createRoute({
      method: "post",
      path: "/customers/{id}/sites",
      ...needs("masterdata.manage"),
      tags: tags("sites"),
      request: { params: IdParam, ...body(NameInput) },
      responses: { 201: json(SiteSchema, "created"), ...errors(400, 403, 404, 409) },
    }),
    async (c) =>
      c.json(
        wire(await createSite(c.get("ctx"), c.req.valid("param").id, c.req.valid("json"))),
        201,
      ),
  );
  api.openapi(
    createRoute({
      method: "patch",
      path: "/sites/{id}",
      ...needs("masterdata.manage"),
      tags: tags("sites"),
      request: { params: IdParam, ...body(NamePatch) },
      responses: { 200: json(SiteSchema, "renamed"), ...errors(400, 403, 404, 409) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const before = await getSite(c.get("ctx"), id);
      await renameSite(c.get("ctx"), id, { name: before.name, ...c.req.valid("json") });
      return c.json(wire(await getSite(c.get("ctx"), id)), 200);
    },
  );
  api.openapi(
    createRoute({
      method: "delete",
      path: "/sites/{id}",
      ...needs("masterdata.manage"),
      tags: tags("sites"),
      request: { params: IdParam },
      responses: { 200: json(Deleted, "deleted"), ...errors(400, 403, 404, 409) },
    }),
    async (c) => {
      await deleteSite(c.get("ctx"), c.req.valid("param").id);
      return c.json({ deleted: true as const }, 200);
    },
  );

  // Gateways
  api.openapi(
    createRoute({
      method: "get",
      path: "/gateways",
      tags: tags("gateways"),
      request: { query: z.object({ siteId: z.uuid().optional() }) },
      responses: { 200: json(z.array(GatewaySchema), "gateways"), ...errors(400) },
    }),
    async (c) => {
      const pool = c.get("api").proxyPool;
      const list = await listGateways(c.get("ctx"), c.req.valid("query"));
      return c.json(wire(list.map((g) => gatewayJson(pool, g))), 200);
    },
  );
  api.openapi(
    createRoute({
      method: "get",
      path: "/gateways/{id}",
      tags: tags("gateways"),
      request: { params: IdParam },
      responses: { 200: json(GatewaySchema, "the gateway"), ...errors(400, 404) },
    }),
    async (c) => {
      const gateway = await getGateway(c.get("ctx"), c.req.valid("param").id);
      return c.json(wire(gatewayJson(c.get("api").proxyPool, gateway)), 200);
    },
  );
  api.openapi(
    createRoute({
      method: "post",
      path: "/sites/{id}/gateways",
      ...needs("masterdata.manage"),
      tags: tags("gateways"),
      request: { params: IdParam, ...body(NameInput) },
      responses: {
        201: json(NewGatewaySchema, "created; the secret is shown this once"),
        ...errors(400, 403, 404, 409),
      },
    }),
    async (c) => {
      const pool = c.get("api").proxyPool;
      const { gateway, secret } = await createGateway(
        c.get("ctx"),
        pool,
        c.req.valid("param").id,
        c.req.valid("json"),
      );
      return c.json(wire({ gateway: gatewayJson(pool, gateway), secret }), 201);
    },
  );
  api.openapi(
    createRoute({
      method: "patch",
      path: "/gateways/{id}",
      ...needs("masterdata.manage"),
      tags: tags("gateways"),
      request: { params: IdParam, ...body(NamePatch) },
      responses: { 200: json(GatewaySchema, "renamed"), ...errors(400, 403, 404, 409) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const before = await getGateway(c.get("ctx"), id);
      await renameGateway(c.get("ctx"), id, { name: before.name, ...c.req.valid("json") });
      const after = await getGateway(c.get("ctx"), id);
      return c.json(wire(gatewayJson(c.get("api").proxyPool, after)), 200);
    },
  );
  api.openapi(
    createRoute({
      method: "delete",
      path: "/gateways/{id}",
      ...needs("masterdata.manage"),
      tags: tags("gateways"),
      request: { params: IdParam },
      responses: { 200: json(Deleted, "deleted"), ...errors(400, 403, 404, 409) },
    }),
    async (c) => {
      await deleteGateway(c.get("ctx"), c.req.valid("param").id);
      return c.json({ deleted: true as const }, 200);
    },
  );

  // Machines
  api.openapi(
    createRoute({
      method: "get",
      path: "/machines",
      tags: tags("machines"),
      request: { query: MachineQuery },
      responses: { 200: json(MachinePage, "a page of machines and the total"), ...errors(400) },
    }),
    async (c) => {
      const { q, gatewayId, limit, offset } = c.req.valid("query");
      return c.json(
        wire(await listMachines(c.get("ctx"), { search: q, gatewayId, limit, offset })),
        200,
      );
    },
  );
  api.openapi(
    createRoute({
      method: "get",
      path: "/machines/{id}",
      tags: tags("machines"),
      request: { params: IdParam },
      responses: { 200: json(MachineSchema, "the machine"), ...errors(400, 404) },
    }),
    async (c) => c.json(wire(await getMachine(c.get("ctx"), c.req.valid("param").id)), 200),
  );
  api.openapi(
    createRoute({
      method: "post",
      path: "/gateways/{id}/machines",
      ...needs("masterdata.manage"),
      tags: tags("machines"),
      request: { params: IdParam, ...body(MachineInput) },
      responses: {
        201: json(MachineSchema, "created, with its proxy address"),
        ...errors(400, 403, 404, 409),
      },
    }),
    async (c) =>
      c.json(
        wire(
          await createMachine(
            c.get("ctx"),
            c.get("api").proxyPool,
            c.req.valid("param").id,
            c.req.valid("json"),
          ),
        ),
        201,
      ),
  );
  api.openapi(
    createRoute({
      method: "patch",
      path: "/machines/{id}",
      ...needs("masterdata.manage"),
      tags: tags("machines"),
      request: { params: IdParam, ...body(MachinePatch) },
      responses: { 200: json(MachineSchema, "changed"), ...errors(400, 403, 404, 409) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const before = await getMachine(c.get("ctx"), id);
      await updateMachine(c.get("ctx"), c.get("api").proxyPool, id, {
        name: before.name,
        lanAddress: before.lanAddress,
        ...c.req.valid("json"),
      });
      return c.json(wire(await getMachine(c.get("ctx"), id)), 200);
    },
  );
  api.openapi(
    createRoute({
      method: "delete",
      path: "/machines/{id}",
      ...needs("masterdata.manage"),
      tags: tags("machines"),
      request: { params: IdParam },
      responses: { 200: json(Deleted, "deleted with its services"), ...errors(400, 403, 404, 409) },
    }),
    async (c) => {
      await deleteMachine(c.get("ctx"), c.req.valid("param").id);
      return c.json({ deleted: true as const }, 200);
    },
  );

  // Services
  api.openapi(
    createRoute({
      method: "get",
      path: "/machines/{id}/services",
      tags: tags("services"),
      request: { params: IdParam },
      responses: {
        200: json(z.array(ServiceSchema), "the machine's services"),
        ...errors(400, 404),
      },
    }),
    async (c) => c.json(wire(await listServices(c.get("ctx"), c.req.valid("param").id)), 200),
  );
  api.openapi(
    createRoute({
      method: "post",
      path: "/machines/{id}/services",
      ...needs("masterdata.manage"),
      tags: tags("services"),
      request: { params: IdParam, ...body(ServiceInput) },
      responses: { 201: json(ServiceSchema, "created"), ...errors(400, 403, 404, 409) },
    }),
    async (c) =>
      c.json(
        wire(await createService(c.get("ctx"), c.req.valid("param").id, c.req.valid("json"))),
        201,
      ),
  );
  api.openapi(
    createRoute({
      method: "patch",
      path: "/services/{id}",
      ...needs("masterdata.manage"),
      tags: tags("services"),
      request: { params: IdParam, ...body(ServicePatch) },
      responses: { 200: json(ServiceSchema, "changed"), ...errors(400, 403, 404, 409) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { name, protocol, port, enabled, mode } = await getService(c.get("ctx"), id);
      const patch = { name, protocol, port, enabled, mode, ...c.req.valid("json") };
      return c.json(wire(await updateService(c.get("ctx"), id, patch)), 200);
    },
  );
  api.openapi(
    createRoute({
      method: "delete",
      path: "/services/{id}",
      ...needs("masterdata.manage"),
      tags: tags("services"),
      request: { params: IdParam },
      responses: { 200: json(Deleted, "deleted"), ...errors(400, 403, 404, 409) },
    }),
    async (c) => {
      const ctx = c.get("ctx");
      await getService(ctx, c.req.valid("param").id);
      await deleteService(ctx, c.req.valid("param").id);
      return c.json({ deleted: true as const }, 200);
    },
  );
}
