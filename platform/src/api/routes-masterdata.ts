// /api/v1 master data: customers, sites, gateways, machines, services — each call goes through
// the same domain functions (scope, validation, audit) as the portal.
import { createRoute, z } from "@hono/zod-openapi";
import {
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
  renameCustomer,
  renameGateway,
  renameSite,
  updateMachine,
  updateService,
} from "../masterdata/index.ts";
import type { ApiApp } from "./app.ts";
import { Deleted, ERRORS, json, wire } from "./respond.ts";
import {
  CustomerSchema,
  GatewaySchema,
  IdParam,
  MachineInput,
  MachinePage,
  MachineQuery,
  MachineSchema,
  NameInput,
  NewGatewaySchema,
  ServiceInput,
  ServiceSchema,
  SiteSchema,
} from "./schemas.ts";

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
      responses: { 200: json(z.array(CustomerSchema), "customers the token may read"), ...ERRORS },
    }),
    async (c) => c.json(wire(await listCustomers(c.get("ctx"), c.req.valid("query").q ?? "")), 200),
  );
  api.openapi(
    createRoute({
      method: "post",
      path: "/customers",
      tags: tags("customers"),
      request: body(NameInput),
      responses: { 201: json(CustomerSchema, "created"), ...ERRORS },
    }),
    async (c) => c.json(wire(await createCustomer(c.get("ctx"), c.req.valid("json"))), 201),
  );
  api.openapi(
    createRoute({
      method: "get",
      path: "/customers/{id}",
      tags: tags("customers"),
      request: { params: IdParam },
      responses: { 200: json(CustomerSchema, "the customer"), ...ERRORS },
    }),
    async (c) => c.json(wire(await getCustomer(c.get("ctx"), c.req.valid("param").id)), 200),
  );
  api.openapi(
    createRoute({
      method: "patch",
      path: "/customers/{id}",
      tags: tags("customers"),
      request: { params: IdParam, ...body(NameInput) },
      responses: { 200: json(CustomerSchema, "renamed"), ...ERRORS },
    }),
    async (c) =>
      c.json(
        wire(await renameCustomer(c.get("ctx"), c.req.valid("param").id, c.req.valid("json"))),
        200,
      ),
  );
  api.openapi(
    createRoute({
      method: "delete",
      path: "/customers/{id}",
      tags: tags("customers"),
      request: { params: IdParam },
      responses: { 200: json(Deleted, "deleted"), ...ERRORS },
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
      responses: { 200: json(z.array(SiteSchema), "sites"), ...ERRORS },
    }),
    async (c) => c.json(wire(await listSites(c.get("ctx"), c.req.valid("query"))), 200),
  );
  api.openapi(
    createRoute({
      method: "post",
      path: "/customers/{id}/sites",
      tags: tags("sites"),
      request: { params: IdParam, ...body(NameInput) },
      responses: { 201: json(SiteSchema, "created"), ...ERRORS },
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
      tags: tags("sites"),
      request: { params: IdParam, ...body(NameInput) },
      responses: { 200: json(SiteSchema, "renamed"), ...ERRORS },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await renameSite(c.get("ctx"), id, c.req.valid("json"));
      return c.json(wire(await getSite(c.get("ctx"), id)), 200);
    },
  );
  api.openapi(
    createRoute({
      method: "delete",
      path: "/sites/{id}",
      tags: tags("sites"),
      request: { params: IdParam },
      responses: { 200: json(Deleted, "deleted"), ...ERRORS },
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
      responses: { 200: json(z.array(GatewaySchema), "gateways"), ...ERRORS },
    }),
    async (c) => c.json(wire(await listGateways(c.get("ctx"), c.req.valid("query"))), 200),
  );
  api.openapi(
    createRoute({
      method: "get",
      path: "/gateways/{id}",
      tags: tags("gateways"),
      request: { params: IdParam },
      responses: { 200: json(GatewaySchema, "the gateway"), ...ERRORS },
    }),
    async (c) => c.json(wire(await getGateway(c.get("ctx"), c.req.valid("param").id)), 200),
  );
  api.openapi(
    createRoute({
      method: "post",
      path: "/sites/{id}/gateways",
      tags: tags("gateways"),
      request: { params: IdParam, ...body(NameInput) },
      responses: {
        201: json(NewGatewaySchema, "created; the secret is shown this once"),
        ...ERRORS,
      },
    }),
    async (c) =>
      c.json(
        wire(
          await createGateway(
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
      path: "/gateways/{id}",
      tags: tags("gateways"),
      request: { params: IdParam, ...body(NameInput) },
      responses: { 200: json(GatewaySchema, "renamed"), ...ERRORS },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await renameGateway(c.get("ctx"), id, c.req.valid("json"));
      return c.json(wire(await getGateway(c.get("ctx"), id)), 200);
    },
  );
  api.openapi(
    createRoute({
      method: "delete",
      path: "/gateways/{id}",
      tags: tags("gateways"),
      request: { params: IdParam },
      responses: { 200: json(Deleted, "deleted"), ...ERRORS },
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
      responses: { 200: json(MachinePage, "a page of machines and the total"), ...ERRORS },
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
      responses: { 200: json(MachineSchema, "the machine"), ...ERRORS },
    }),
    async (c) => c.json(wire(await getMachine(c.get("ctx"), c.req.valid("param").id)), 200),
  );
  api.openapi(
    createRoute({
      method: "post",
      path: "/gateways/{id}/machines",
      tags: tags("machines"),
      request: { params: IdParam, ...body(MachineInput) },
      responses: { 201: json(MachineSchema, "created, with its proxy address"), ...ERRORS },
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
      tags: tags("machines"),
      request: { params: IdParam, ...body(MachineInput) },
      responses: { 200: json(MachineSchema, "changed"), ...ERRORS },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await updateMachine(c.get("ctx"), id, c.req.valid("json"));
      return c.json(wire(await getMachine(c.get("ctx"), id)), 200);
    },
  );
  api.openapi(
    createRoute({
      method: "delete",
      path: "/machines/{id}",
      tags: tags("machines"),
      request: { params: IdParam },
      responses: { 200: json(Deleted, "deleted with its services"), ...ERRORS },
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
      responses: { 200: json(z.array(ServiceSchema), "the machine's services"), ...ERRORS },
    }),
    async (c) => c.json(wire(await listServices(c.get("ctx"), c.req.valid("param").id)), 200),
  );
  api.openapi(
    createRoute({
      method: "post",
      path: "/machines/{id}/services",
      tags: tags("services"),
      request: { params: IdParam, ...body(ServiceInput) },
      responses: { 201: json(ServiceSchema, "created"), ...ERRORS },
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
      tags: tags("services"),
      request: { params: IdParam, ...body(ServiceInput) },
      responses: { 200: json(ServiceSchema, "changed"), ...ERRORS },
    }),
    async (c) =>
      c.json(
        wire(await updateService(c.get("ctx"), c.req.valid("param").id, c.req.valid("json"))),
        200,
      ),
  );
  api.openapi(
    createRoute({
      method: "delete",
      path: "/services/{id}",
      tags: tags("services"),
      request: { params: IdParam },
      responses: { 200: json(Deleted, "deleted"), ...ERRORS },
    }),
    async (c) => {
      const ctx = c.get("ctx");
      await getService(ctx, c.req.valid("param").id);
      await deleteService(ctx, c.req.valid("param").id);
      return c.json({ deleted: true as const }, 200);
    },
  );
}
