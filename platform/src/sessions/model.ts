// The shapes sessions are handled in, and small helpers every part of the session rules uses.
import { z } from "zod";
import type { EndReason, gatewaySessions, remoteSessions } from "../db/index.ts";
import type { Grant } from "../firewall/index.ts";
import { FORMAT_CHARACTER, FORMAT_MESSAGE } from "../shared/index.ts";
import type { SessionTimes } from "./lifecycle.ts";

export type GatewaySession = typeof gatewaySessions.$inferSelect;
export type RemoteSession = typeof remoteSessions.$inferSelect;

/** A remote session as the portal lists it. */
export type SessionView = RemoteSession & {
  machineName: string;
  technicianName: string;
  /** The technician's company as recorded now (user form or provider claim); null: not recorded. */
  technicianCompany: string | null;
  /** The site of the machine's gateway (operators may be narrowed to sites). */
  siteId: string;
  /** The gateway the session goes through (for maintenance: the gateway it reaches). */
  gatewayId: string;
  /** The name of the user who ended it (endedBy); null for the system or while open. */
  endedByName: string | null;
};

/** What a technician's Connect must say (reason), and may (ticket, services, minutes). */
export const requestInput = z.object({
  // Format characters (bidi overrides, zero-width) would reorder or hide what the approver reads.
  reason: z
    .string({ error: "is required" })
    .refine((v) => !FORMAT_CHARACTER.test(v), FORMAT_MESSAGE)
    .trim()
    .min(3, "say why you connect (at least 3 characters)")
    .max(200),
  ticket: z
    .string()
    .refine((v) => !FORMAT_CHARACTER.test(v), FORMAT_MESSAGE)
    .trim()
    .max(64, "at most 64 characters")
    .optional()
    .transform((t) => (t ? t : null)),
  /** Ids of the machine's enabled services to reach; absent: all of them. */
  services: z
    .array(z.string(), { error: "must be a list of service ids" })
    .min(1, "choose at least one service")
    .optional(),
  /**
   * full (the default), or read_only: every chosen service through the gateway's Modbus/TCP filter
   * (reads only) for this session — each must be a Modbus service (request-rules.ts modbusService).
   */
  mode: z.enum(["full", "read_only"], { error: "must be full or read_only" }).default("full"),
  /** How long the session lasts, in minutes; absent: the longest the site allows. */
  minutes: z.coerce
    .number({ error: "must be a number of minutes" })
    .int("must be whole minutes")
    .min(1, "at least 1 minute")
    .optional(),
});

export const timesOf = (s: RemoteSession): SessionTimes => ({
  state: s.state,
  requestedAt: s.requestedAt,
  configExpiresAt: s.configExpiresAt,
  endsAt: s.endsAt,
  activatedAt: s.activatedAt,
  decideBy: s.decideBy,
  durationSeconds: s.durationSeconds,
  approvedAt: s.approvedAt,
  endedAt: s.endedAt,
  endReason: s.endReason as EndReason | null,
});

/** The firewall grants of a session: its tunnel address to each granted service. */
export function grantsOf(session: RemoteSession): Grant[] {
  return session.services.map((s) => ({
    technicianAddress: session.tunnelAddress,
    proxyAddress: session.proxyAddress,
    protocol: s.protocol,
    port: s.port,
  }));
}
