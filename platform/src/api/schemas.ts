// The admin API's shapes, from which the OpenAPI document is generated: what each list and object
// looks like on the wire (times as ISO 8601 strings), and the one error shape.
import { z } from "@hono/zod-openapi";

const id = z.uuid().openapi({ example: "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b" });
const time = z.string().openapi({ format: "date-time", example: "2026-05-01T10:00:00.000Z" });

export const ErrorSchema = z
  .object({
    error: z.object({
      status: z.number().int(),
      code: z.string().openapi({ example: "ERR_VALIDATION" }),
      message: z.string(),
      field: z.string().nullable(),
    }),
  })
  .openapi("Error");

export const IdParam = z.object({ id: id.openapi({ param: { name: "id", in: "path" } }) });

export const NameInput = z
  .object({ name: z.string().openapi({ example: "ACME" }) })
  .openapi("NameInput");

/** PATCH bodies are partial (RFC 5789): fields left out keep their value. */
export const NamePatch = NameInput.partial().openapi("NamePatch");

export const CustomerSchema = z
  .object({ id, name: z.string(), createdAt: time })
  .openapi("Customer");
export const SiteSchema = z
  .object({ id, customerId: id, customerName: z.string(), name: z.string(), createdAt: time })
  .openapi("Site");
export const GatewaySchema = z
  .object({
    id,
    customerId: id,
    siteId: id,
    name: z.string(),
    siteName: z.string(),
    customerName: z.string(),
    proxyBlock: z
      .string()
      .openapi({ example: "100.64.0.0/24", description: "the gateway's proxy addresses (CIDR)" }),
    createdAt: time,
    lastSeenAt: time.nullable(),
  })
  .openapi("Gateway");
export const NewGatewaySchema = z
  .object({ gateway: GatewaySchema, secret: z.string().openapi({ description: "shown once" }) })
  .openapi("NewGateway");
export const MachineInput = z
  .object({ name: z.string(), lanAddress: z.string().openapi({ example: "192.168.0.10" }) })
  .openapi("MachineInput");
export const MachinePatch = MachineInput.partial().openapi("MachinePatch");
export const MachineSchema = z
  .object({
    id,
    customerId: id,
    gatewayId: id,
    name: z.string(),
    lanAddress: z.string(),
    proxyAddress: z.string(),
    gatewayName: z.string(),
    siteId: id,
    siteName: z.string(),
    customerName: z.string(),
    createdAt: time,
  })
  .openapi("Machine");
export const MachinePage = z
  .object({ machines: z.array(MachineSchema), total: z.number().int() })
  .openapi("MachinePage");
export const MachineQuery = z.object({
  q: z
    .string()
    .max(100)
    .optional()
    .openapi({ description: "name, LAN or proxy address, site or customer contains" }),
  gatewayId: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
export const ServiceInput = z
  .object({
    name: z.string(),
    protocol: z.enum(["tcp", "udp"]),
    port: z.number().int().min(1).max(65535),
    enabled: z.boolean(),
    /**
     * How the gateway forwards it: "full" (the default) or "modbus-read-only" (only Modbus/TCP reads,
     * functions 1–4 and 43/14, pass the gateway's filter; TCP only; not on a workstation).
     */
    mode: z.enum(["full", "modbus-read-only"]).optional().openapi({
      description:
        'How the gateway forwards it: "full" (default) or "modbus-read-only" (only Modbus/TCP reads, functions 1–4 and 43/14, pass the gateway\'s filter; TCP only; not on a workstation)',
    }),
  })
  .openapi("ServiceInput");
export const ServicePatch = ServiceInput.partial().openapi("ServicePatch");
export const ServiceSchema = ServiceInput.extend({
  id,
  machineId: id,
  customerId: id,
  createdAt: time,
}).openapi("Service");
export const GrantSchema = z
  .object({
    role: z.enum(["platform_admin", "technician", "customer_admin", "auditor"]),
    customerId: id.nullable(),
  })
  .openapi("Grant");
export const UserSchema = z
  .object({
    id,
    username: z.string(),
    displayName: z.string(),
    disabled: z.boolean(),
    totpEnrolled: z.boolean(),
    grants: z.array(GrantSchema.extend({ id, customerName: z.string().nullable() })),
  })
  .openapi("User");
export const UserInput = z
  .object({ username: z.string(), displayName: z.string() })
  .openapi("UserInput");
export const NewUserSchema = z
  .object({ user: UserSchema, oneTimePassword: z.string().openapi({ description: "shown once" }) })
  .openapi("NewUser");
export const SessionSchema = z
  .object({
    id,
    customerId: id,
    machineId: id,
    machineName: z.string(),
    technicianId: id,
    technicianName: z.string(),
    reason: z.string(),
    mode: z.enum(["full", "read_only"]).openapi({
      description:
        'What the request asked for: "full", or "read_only" (every service through the gateway\'s Modbus/TCP filter: reads only)',
    }),
    state: z.enum(["pending", "requested", "active", "ended"]),
    proxyAddress: z.string(),
    requestedAt: time,
    activatedAt: time.nullable(),
    endsAt: time,
    endedAt: time.nullable(),
    endReason: z.string().nullable(),
    bytesIn: z.number(),
    bytesOut: z.number(),
  })
  .openapi("RemoteSession");
export const AuditEntrySchema = z
  .object({
    seq: z.number().int(),
    at: time,
    actorId: id.nullable(),
    actorName: z.string(),
    action: z.string(),
    targetType: z.string().nullable(),
    targetId: z.string().nullable(),
    customerId: id.nullable(),
    ip: z.string().nullable(),
    result: z.enum(["ok", "denied", "failed"]),
    detail: z.record(z.string(), z.unknown()),
    prevHash: z.string(),
    hash: z.string(),
  })
  .openapi("AuditEntry");
export const AuditQuery = z.object({
  action: z.string().max(100).optional(),
  actor: z.string().max(100).optional(),
  result: z.enum(["ok", "denied", "failed"]).optional(),
  from: z.iso.date().optional(),
  to: z.iso.date().optional(),
  before: z.coerce
    .number()
    .int()
    .positive()
    .optional()
    .openapi({ description: "entries older than this seq (paging)" }),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
export const ImportReportSchema = z
  .object({
    ok: z.boolean(),
    dryRun: z.boolean(),
    problems: z.array(
      z.object({ line: z.number().int(), column: z.string().nullable(), message: z.string() }),
    ),
    created: z.record(z.string(), z.number().int()),
    unchanged: z.record(z.string(), z.number().int()),
  })
  .openapi("ImportReport");
export const TokenSchema = z
  .object({
    id,
    name: z.string(),
    userId: id,
    serviceAccount: z.string().nullable(),
    grants: z.array(GrantSchema),
    createdAt: time,
    expiresAt: time,
    revokedAt: time.nullable(),
    lastUsedAt: time.nullable(),
  })
  .openapi("ApiToken");
