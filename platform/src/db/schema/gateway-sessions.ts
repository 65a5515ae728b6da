// A gateway session: one operator Connect — the gateway's data channel from request to close.
import { bigint, index, integer, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { at, createdAt, id } from "./columns.ts";
import { gateways } from "./gateways.ts";

export const GATEWAY_SESSION_STATES = ["connecting", "online", "closed"] as const;
export type GatewaySessionState = (typeof GATEWAY_SESSION_STATES)[number];

/** Why a data channel closed (the rules that follow from each are in sessions/reasons.ts). */
export const CLOSE_REASONS = [
  "operator", // the operator pressed Disconnect on the gateway
  "replaced", // the operator pressed Connect again: a new data channel replaces this one
  "technician", // a technician ended a remote session through it (operator-only re-arm)
  "admin", // an admin terminated a remote session through it (operator-only re-arm)
  "gateway_lost", // the gateway's tunnel went away
  "platform_shutdown", // the platform stopped or restarted
  "vpn_failure", // the OpenVPN server carrying it crashed
  "database_lost", // the platform lost its database and cut all access (fail closed)
  "renewal", // it reached its maximum lifetime: the gateway connects a new one by itself
  "instance_lost", // the platform instance holding its tunnel stopped answering (ended by a survivor)
] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

export const gatewaySessions = pgTable(
  "gateway_sessions",
  {
    id: id(),
    gatewayId: uuid("gateway_id")
      .notNull()
      .references(() => gateways.id, { onDelete: "cascade" }),
    customerId: uuid("customer_id").notNull(),
    state: text("state", { enum: GATEWAY_SESSION_STATES }).notNull(),
    /** The OpenVPN server instance it connects to, and its address in that tunnel. */
    vpnInstance: integer("vpn_instance").notNull(),
    tunnelAddress: text("tunnel_address").notNull(),
    /** The platform instance whose OpenVPN server holds its tunnel (null before instances). */
    instanceId: text("instance_id"),
    /** "<instance>:<client id>" of the OpenVPN connection while online. */
    connection: text("connection"),
    requestedAt: at("requested_at").notNull(),
    onlineAt: at("online_at"),
    /** When the platform renews it (its certificate's lifetime); null for channels before 0008. */
    endsAt: at("ends_at"),
    closedAt: at("closed_at"),
    closeReason: text("close_reason", { enum: CLOSE_REASONS }),
    bytesIn: bigint("bytes_in", { mode: "number" }).notNull().default(0),
    bytesOut: bigint("bytes_out", { mode: "number" }).notNull().default(0),
    createdAt: createdAt(),
  },
  // Every heartbeat asks for its gateway's newest channel.
  (t) => [index("gateway_sessions_gateway_requested").on(t.gatewayId, t.requestedAt)],
);
