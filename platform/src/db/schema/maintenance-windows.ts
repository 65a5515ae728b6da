// A maintenance window: a time, once or weekly, in which a gateway's operator (or a customer
// approver, where the site allows it) pre-approves named technicians' requests for some services.
import { boolean, index, jsonb, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { at, createdAt, id } from "./columns.ts";
import { gateways } from "./gateways.ts";

/**
 * What a window pre-approves: "full" — requests in any mode; "read_only" — only requests whose
 * every service is forwarded read-only (Modbus/TCP read-only services).
 */
export const WINDOW_MODES = ["full", "read_only"] as const;
export type WindowMode = (typeof WINDOW_MODES)[number];

/** Where a window was created (and so who may cancel it): the gateway's UI or the portal. */
export const WINDOW_ORIGINS = ["gateway", "portal"] as const;
export type WindowOrigin = (typeof WINDOW_ORIGINS)[number];

export const maintenanceWindows = pgTable(
  "maintenance_windows",
  {
    id: id(),
    customerId: uuid("customer_id").notNull(),
    /** Windows are per gateway: it is the gateway that arms at the start and disarms at the end. */
    gatewayId: uuid("gateway_id")
      .notNull()
      .references(() => gateways.id, { onDelete: "cascade" }),
    /** The first (or only) occurrence. */
    startsAt: at("starts_at").notNull(),
    endsAt: at("ends_at").notNull(),
    /** Repeats every 7 days from `startsAt` until cancelled. */
    weekly: boolean("weekly").notNull().default(false),
    /** Technicians' user ids; empty: every technician of the gateway's customer. */
    technicianIds: jsonb("technician_ids").$type<string[]>().notNull(),
    /** Service ids (of the gateway's machines); empty: every enabled service. */
    serviceIds: jsonb("service_ids").$type<string[]>().notNull(),
    mode: text("mode", { enum: WINDOW_MODES }).notNull().default("full"),
    reason: text("reason").notNull(),
    origin: text("origin", { enum: WINDOW_ORIGINS }).notNull(),
    /** The portal user who created it; null when the operator created it on the gateway's UI. */
    createdBy: uuid("created_by"),
    /** Who created it, as shown ("operator at gateway X" or the user's name). */
    createdByName: text("created_by_name").notNull(),
    cancelledAt: at("cancelled_at"),
    cancelledByName: text("cancelled_by_name"),
    createdAt: createdAt(),
  },
  (t) => [index("maintenance_windows_gateway").on(t.gatewayId)],
);
