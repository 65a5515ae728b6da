// A service of a machine (protocol + port) that a remote session may reach when enabled.
import { boolean, foreignKey, integer, pgTable, text, unique, uuid } from "drizzle-orm/pg-core";
import { createdAt, id } from "./columns.ts";
import { machines } from "./machines.ts";

/**
 * How the gateway forwards a service (common/src/control/contract.ts SERVICE_MODES): "full" (DNAT)
 * or "modbus-read-only" (through the gateway agent's Modbus/TCP filter: reads only).
 */
export const SERVICE_MODES = ["full", "modbus-read-only"] as const;
export type ServiceMode = (typeof SERVICE_MODES)[number];

export const services = pgTable(
  "services",
  {
    id: id(),
    customerId: uuid("customer_id").notNull(),
    machineId: uuid("machine_id").notNull(),
    name: text("name").notNull(),
    protocol: text("protocol", { enum: ["tcp", "udp"] }).notNull(),
    port: integer("port").notNull(),
    enabled: boolean("enabled").notNull().default(true),
    mode: text("mode", { enum: SERVICE_MODES }).notNull().default("full"),
    createdAt: createdAt(),
  },
  (t) => [
    foreignKey({
      columns: [t.machineId, t.customerId],
      foreignColumns: [machines.id, machines.customerId],
    }).onDelete("cascade"),
    unique("services_machine_protocol_port").on(t.machineId, t.protocol, t.port),
    unique("services_machine_name").on(t.machineId, t.name),
  ],
);
