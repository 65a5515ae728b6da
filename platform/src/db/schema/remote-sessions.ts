// A remote session: one technician's access to one machine's enabled services, for a limited time.
import { bigint, integer, jsonb, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { at, createdAt, id } from "./columns.ts";
import { gatewaySessions } from "./gateway-sessions.ts";
import { machines } from "./machines.ts";
import { CONSENT_POLICIES } from "./sites.ts";
import { users } from "./users.ts";

/**
 * pending: a request waiting for its approval (consent policy customer_approval) — no config, no
 * grant; requested: the one-time config may connect; active: connected; ended: for good.
 */
export const REMOTE_SESSION_STATES = ["pending", "requested", "active", "ended"] as const;

/**
 * machine: a technician's access to a machine's enabled services; maintenance: a platform admin's
 * SSH access to a connect gateway itself (its tunnel address, port 22).
 */
export const REMOTE_SESSION_KINDS = ["machine", "maintenance"] as const;
export type RemoteSessionKind = (typeof REMOTE_SESSION_KINDS)[number];

/**
 * What a technician's request asked for: full access, or read-only (every service through the
 * gateway's Modbus/TCP filter, for this session only — its services carry "modbus-read-only").
 */
export const REQUEST_MODES = ["full", "read_only"] as const;
export type RequestMode = (typeof REQUEST_MODES)[number];

/** Why a remote session ended. */
export const END_REASONS = [
  "technician", // the technician disconnected in the portal or closed the client
  "admin", // an admin terminated it
  "operator", // the operator pressed Disconnect on the gateway
  "expiry", // its end time passed
  "config_unused", // the one-time config expired before it was used
  "gateway_lost", // the gateway's data channel went away
  "channel_closed", // another technician's (or an admin's) end closed the data channel (operator_connect)
  "platform_shutdown", // the platform stopped or restarted
  "vpn_failure", // the OpenVPN server carrying it crashed
  "database_lost", // the platform lost its database and cut all access (fail closed)
  "access_revoked", // the technician was disabled, or lost the role for the machine's customer
  "denied", // an approver denied the request
  "request_expired", // nobody decided the request in time
  "window_cancelled", // the maintenance window that approved it was cancelled
  "window_ended", // its end time was the end of the maintenance window that approved it
  "instance_lost", // the platform instance holding its tunnel stopped answering (ended by a survivor)
] as const;
export type EndReason = (typeof END_REASONS)[number];

/** A service as it was granted when the session was requested. */
export interface GrantedService {
  serviceId: string;
  name: string;
  protocol: "tcp" | "udp";
  port: number;
  /** How the gateway forwards it; absent in sessions from before modes: "full". */
  mode?: "full" | "modbus-read-only";
}

/**
 * The gateway's read-only Modbus filter, for this session: requests forwarded (`passed`) and
 * answered with exception 01 instead (`refused`) by function code ("3", "43/14"), connections closed
 * for a header that was not Modbus/TCP; as the gateway last reported it (`reportedAt`).
 */
export interface ModbusEvidence {
  passed: Record<string, number>;
  refused: Record<string, number>;
  closed: number;
  reportedAt: string;
}

/**
 * Per granted service: packets and bytes the firewall saw (flow evidence); null when its counters
 * could not be read — shown as missing, never as zero.
 */
export interface FlowEvidence {
  protocol: "tcp" | "udp";
  port: number;
  packets: number | null;
  bytes: number | null;
}

export const remoteSessions = pgTable("remote_sessions", {
  id: id(),
  customerId: uuid("customer_id").notNull(),
  kind: text("kind", { enum: REMOTE_SESSION_KINDS }).notNull().default("machine"),
  /** The machine (kind machine); null for a maintenance session (its gateway is its channel's). */
  machineId: uuid("machine_id").references(() => machines.id, { onDelete: "cascade" }),
  gatewaySessionId: uuid("gateway_session_id")
    .notNull()
    .references(() => gatewaySessions.id, { onDelete: "cascade" }),
  technicianId: uuid("technician_id")
    .notNull()
    .references(() => users.id, { onDelete: "restrict" }),
  /** Why the technician connects (ticket, fault), shown to the operator and in the audit log. */
  reason: text("reason").notNull(),
  state: text("state", { enum: REMOTE_SESSION_STATES }).notNull(),
  services: jsonb("services").$type<GrantedService[]>().notNull(),
  /** Where the grants point: the machine's proxy address, or the gateway's tunnel address. */
  proxyAddress: text("proxy_address").notNull(),
  vpnInstance: integer("vpn_instance").notNull(),
  /** The platform instance whose OpenVPN server holds its tunnel (its gateway's channel's). */
  instanceId: text("instance_id"),
  tunnelAddress: text("tunnel_address").notNull(),
  connection: text("connection"),
  requestedAt: at("requested_at").notNull(),
  configExpiresAt: at("config_expires_at").notNull(),
  endsAt: at("ends_at").notNull(),
  activatedAt: at("activated_at"),
  endedAt: at("ended_at"),
  endReason: text("end_reason", { enum: END_REASONS }),
  endedBy: uuid("ended_by"),
  bytesIn: bigint("bytes_in", { mode: "number" }).notNull().default(0),
  bytesOut: bigint("bytes_out", { mode: "number" }).notNull().default(0),
  flowEvidence: jsonb("flow_evidence").$type<FlowEvidence[]>(),
  /** Null while no read-only Modbus connection was reported (or the session had none). */
  modbusEvidence: jsonb("modbus_evidence").$type<ModbusEvidence>(),
  /** full, or read_only: the request asked for read-only Modbus on every service. */
  mode: text("mode", { enum: REQUEST_MODES }).notNull().default("full"),
  /** The ticket the technician named (optional). */
  ticket: text("ticket"),
  /** The site's consent policy when the session was requested: it decides approval and ends. */
  consentPolicy: text("consent_policy", { enum: CONSENT_POLICIES })
    .notNull()
    .default("operator_connect"),
  /** How long the session lasts once it may connect, in seconds (its clock starts at approval). */
  durationSeconds: integer("duration_seconds"),
  /** Until when a pending request may be decided; null when no approval was needed. */
  decideBy: at("decide_by"),
  approvedAt: at("approved_at"),
  approvedBy: uuid("approved_by"),
  /** The maintenance window that approved it (its end cuts the session); null otherwise. */
  windowId: uuid("window_id"),
  /** The technician's corporate proxy for the .ovpn issued after approval. */
  clientProxy: jsonb("client_proxy").$type<{ host: string; port: number }>(),
  /** When the one-time config was issued (once: never again for this session). */
  profileIssuedAt: at("profile_issued_at"),
  createdAt: createdAt(),
});
