// A gateway session: one operator Connect — the gateway's data channel from request to close.
import { bigint, integer, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { at, createdAt, id } from "./columns.ts";
import { gateways } from "./gateways.ts";

export const GATEWAY_SESSION_STATES = ["connecting", "online", "closed"] as const;
export type GatewaySessionState = (typeof GATEWAY_SESSION_STATES)[number];

export const gatewaySessions = pgTable("gateway_sessions", {
  id: id(),
  gatewayId: uuid("gateway_id")
    .notNull()
    .references(() => gateways.id, { onDelete: "cascade" }),
  customerId: uuid("customer_id").notNull(),
  state: text("state", { enum: GATEWAY_SESSION_STATES }).notNull(),
  /** The OpenVPN server instance it connects to, and its address in that tunnel. */
  vpnInstance: integer("vpn_instance").notNull(),
  tunnelAddress: text("tunnel_address").notNull(),
  /** "<instance>:<client id>" of the OpenVPN connection while online. */
  connection: text("connection"),
  requestedAt: at("requested_at").notNull(),
  onlineAt: at("online_at"),
  closedAt: at("closed_at"),
  closeReason: text("close_reason"),
  bytesIn: bigint("bytes_in", { mode: "number" }).notNull().default(0),
  bytesOut: bigint("bytes_out", { mode: "number" }).notNull().default(0),
  createdAt: createdAt(),
});
