// The platform instances sharing this database (several over PostgreSQL, one over PGlite): who is
// up, where technicians and gateways reach its OpenVPN servers, and its slice of the tunnel pool.
// Singleton work (CRL rewrite, session end times, retention, sweeping lost instances) is leased here.
import { jsonb, pgTable, text } from "drizzle-orm/pg-core";
import { at } from "./columns.ts";

export const platformInstances = pgTable("platform_instances", {
  /** MEETPOINT_INSTANCE_ID (default: the host name). */
  id: text("id").primaryKey(),
  /** The host it runs on, for people reading the registry. */
  host: text("host").notNull(),
  /** Its public OpenVPN endpoints, "host:protocol/port" (empty when its data plane is off). */
  vpnEndpoints: jsonb("vpn_endpoints").$type<string[]>().notNull(),
  /** The host name technicians' and gateways' configs name for it (MEETPOINT_VPN_HOST). */
  vpnHost: text("vpn_host").notNull(),
  /** Its slice of the tunnel pool (CIDR), which no other live instance may overlap. */
  tunnelPool: text("tunnel_pool").notNull(),
  startedAt: at("started_at").notNull(),
  /** Refreshed every few seconds while it runs; older than 3 refreshes: the instance is lost. */
  lastSeenAt: at("last_seen_at").notNull(),
  /** Set by a clean stop; a lost instance keeps null (its sessions are then ended by a survivor). */
  stoppedAt: at("stopped_at"),
});

/** A singleton job's lease: one instance at a time runs it (see instances/leases.ts). */
export const jobLeases = pgTable("job_leases", {
  /** "crl", "session-ends", "retention", "lost-instances". */
  job: text("job").primaryKey(),
  holder: text("holder").notNull(),
  until: at("until").notNull(),
});
