// A gateway: the connect agent at a site; owns one block of proxy addresses.
import { foreignKey, integer, jsonb, pgTable, text, unique, uuid } from "drizzle-orm/pg-core";
import { at, createdAt, id } from "./columns.ts";
import { sites } from "./sites.ts";

export interface AgentReport {
  state: string;
  agentVersion: string;
  openvpnVersion: string | null;
  /** Gateway clock minus platform clock when the heartbeat arrived, in milliseconds. */
  clockOffsetMs: number;
  lastError: string | null;
  /** Address the heartbeat came from (the gateway's WAN side as the platform sees it). */
  ip: string | null;
  /** Version of the signed settings the gateway applies (0: none yet); absent from older agents. */
  settingsVersion?: number;
  /** What the agent says it can do ("modbus-read-only"); absent from older agents. */
  capabilities?: string[];
  /** SHA256 fingerprint of the gateway's SSH host key while its SSH server runs. */
  sshHostKey?: string | null;
  /** The phase of the reported state (common's gatewayPhase) and since when it holds (ISO time). */
  phase?: string;
  phaseSince?: string;
  /** The first 16 hex digits of the secret hash the agent last reported with: a new one is a new enrollment. */
  enrolledWith?: string;
}

/**
 * connect: a connect agent (appliance or container) in front of a machine LAN; workstation: a
 * plant PC that connects itself with a stock OpenVPN client and is its own single machine.
 */
export const GATEWAY_KINDS = ["connect", "workstation"] as const;
export type GatewayKind = (typeof GATEWAY_KINDS)[number];

export const gateways = pgTable(
  "gateways",
  {
    id: id(),
    customerId: uuid("customer_id").notNull(),
    siteId: uuid("site_id").notNull(),
    name: text("name").notNull(),
    kind: text("kind", { enum: GATEWAY_KINDS }).notNull().default("connect"),
    /** SHA-256 of the 256-bit random bearer secret the gateway authenticates with. */
    secretHash: text("secret_hash").notNull(),
    /** Index of this gateway's block inside the proxy address pool. */
    proxyBlock: integer("proxy_block").notNull().unique(),
    createdAt: createdAt(),
    /** When the gateway's agent last reported over the control channel (heartbeat). */
    lastSeenAt: at("last_seen_at"),
    /** What the agent reported last: its state, versions, clock offset and last error. */
    agent: jsonb("agent").$type<AgentReport>(),
  },
  (t) => [
    // The site must belong to the same customer: scope filtering relies on customer_id.
    foreignKey({
      columns: [t.siteId, t.customerId],
      foreignColumns: [sites.id, sites.customerId],
    }).onDelete("restrict"),
    unique("gateways_site_name").on(t.siteId, t.name),
    unique("gateways_id_customer").on(t.id, t.customerId),
  ],
);
