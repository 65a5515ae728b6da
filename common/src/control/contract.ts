// The control channel (/api/gateway/v1, JSON over HTTPS with the pinned platform CA): what a gateway
// sends and what the platform answers. Both sides parse with these schemas.
import { z } from "zod";

const uuid = z.uuid({ error: "must be a UUID" });
const isoTime = z.iso.datetime({ offset: true, error: "must be an ISO 8601 time" });
const ipv4 = z.ipv4({ error: "must be an IPv4 address" });

/** The gateway agent's own view of its state, as the operator sees it. */
export const AGENT_STATES = ["idle", "connecting", "online", "reconnecting"] as const;
export type AgentState = (typeof AGENT_STATES)[number];

/** What happened at the gateway's SSH server, and the operator's own keys coming and going. */
export const SSH_EVENT_KINDS = ["login", "failed", "local-key-added", "local-key-removed"] as const;

/** One entry of the gateway's SSH log, reported with the next heartbeat (then audited). */
export const sshEventSchema = z
  .object({
    at: isoTime,
    kind: z.enum(SSH_EVENT_KINDS),
    /** The account named at login; null for key changes. */
    user: z.string().max(64).nullable(),
    /** "address:port" the attempt came from; null for key changes. */
    from: z.string().max(64).nullable(),
    /** SHA256 fingerprint of the key used or changed, when known. */
    fingerprint: z.string().max(100).nullable(),
    /** The SSH server's own words (login, refusal) or the key's label. */
    detail: z.string().max(300),
  })
  .strict();

/**
 * How the gateway forwards a service: "full" (DNAT, any traffic) or "modbus-read-only" (through the
 * agent's Modbus/TCP filter: reads pass, everything else is refused). An agent forwards a mode it
 * does not know not at all (fail closed), so a newer platform's modes never pass in full.
 */
export const SERVICE_MODES = ["full", "modbus-read-only"] as const;
export type ServiceMode = (typeof SERVICE_MODES)[number];

/**
 * What an agent declares it can do, in each heartbeat. "modbus-read-only": it filters read-only
 * Modbus services; to an agent without it the platform sends no such service at all (an older
 * agent would forward it in full), and no field it would refuse. "consent-requests": it shows the
 * requests its operator decides (heartbeat answer `pendingRequests`) and reports the decisions.
 * "maintenance-windows": it arms and disarms its data channel for the windows the heartbeat answer
 * lists (an older agent refuses the field, so it is sent only to agents that declare this).
 */
export const AGENT_CAPABILITIES = [
  "modbus-read-only",
  "consent-requests",
  "maintenance-windows",
] as const;

/** Modbus function codes as counted: "3", or "43/14" for an MEI type of function 43. */
const functionCounts = z.record(
  z
    .string()
    .regex(/^\d{1,3}(\/\d{1,3})?$/, { error: "must be a function code such as 3 or 43/14" }),
  z.number().int().min(0),
);

/**
 * The Modbus filter's evidence for one remote session at this gateway, counted since the session's
 * first filtered connection (cumulative: each report replaces the previous one).
 */
export const modbusEvidenceSchema = z
  .object({
    remoteSessionId: uuid,
    /** Requests forwarded to the machine, by function code. */
    passed: functionCounts,
    /** Requests answered with an exception instead, by function code. */
    refused: functionCounts,
    /** Connections closed because a header was not Modbus/TCP (protocol id, length). */
    closed: z.number().int().min(0),
  })
  .strict();
export type ModbusEvidence = z.infer<typeof modbusEvidenceSchema>;

/** Every 10 s (and at once when something changes): the gateway is alive, and how it is. */
export const heartbeatRequestSchema = z
  .object({
    state: z.enum(AGENT_STATES),
    gatewaySessionId: uuid.nullable(),
    agentVersion: z.string().max(40),
    openvpnVersion: z.string().max(40).nullable(),
    /** The gateway's clock when it sent this; the platform records the offset. */
    localTime: isoTime,
    lastError: z.string().max(500).nullable(),
    /** Version of the signed gateway settings the gateway applies; 0 before the first. */
    settingsVersion: z.number().int().min(0).default(0),
    /** SHA256 fingerprint of the SSH server's host key while it runs, for the admin to compare. */
    sshHostKey: z.string().max(100).nullable().default(null),
    /** SSH logins, failed attempts and the operator's key changes since the last heartbeat. */
    sshEvents: z.array(sshEventSchema).max(100).default([]),
    /** What this agent can do beyond the first version (older agents send none; unknown ones are ignored). */
    capabilities: z.array(z.string().max(40)).max(20).default([]),
    /** The Modbus filter's counts per remote session, current and ended but not yet reported. */
    modbusEvidence: z.array(modbusEvidenceSchema).max(1000).default([]),
  })
  .strict();

/** One enabled service of a remote session, with where the gateway translates it to. */
export const sessionServiceSchema = z
  .object({
    name: z.string().max(200),
    protocol: z.enum(["tcp", "udp"]),
    port: z.number().int().min(1).max(65535),
    /**
     * Sent only to agents with the "modbus-read-only" capability; absent: "full". A string, not the
     * enum, so an agent reads a newer platform's mode, and forwards it not at all.
     */
    mode: z.string().max(40).optional(),
  })
  .strict();

/** A technician's remote session through this gateway: what the operator is shown and allows. */
export const gatewayRemoteSessionSchema = z
  .object({
    id: uuid,
    state: z.enum(["requested", "active"]),
    technician: z.string().max(200),
    reason: z.string().max(500),
    machine: z.string().max(200),
    proxyAddress: ipv4,
    lanAddress: ipv4,
    services: z.array(sessionServiceSchema).max(256),
    /**
     * The technician's tunnel address, the source the gateway sees; sent only to agents with the
     * "modbus-read-only" capability (their filter counts by it and admits no other source).
     */
    technicianAddress: ipv4.optional(),
    since: isoTime,
    until: isoTime,
  })
  .strict();

/**
 * A platform admin's open maintenance session to this gateway's own SSH server (port 22 of its
 * tunnel address): while one is listed and the data channel is online, the gateway lets the tunnel
 * reach its port 22; otherwise the tunnel reaches nothing on the gateway itself.
 */
export const maintenanceSessionSchema = z
  .object({
    id: uuid,
    technician: z.string().max(200),
    reason: z.string().max(500),
    since: isoTime,
    until: isoTime,
  })
  .strict();

/**
 * A technician's request waiting for the operator at this gateway (consent policies
 * operator_approval and two_party): what the consent screen shows before Allow / Deny.
 */
export const pendingRequestSchema = z
  .object({
    id: uuid,
    technician: z.string().max(200),
    /** The technician's company, where the platform knows it (null: not recorded). */
    company: z.string().max(200).nullable(),
    reason: z.string().max(500),
    ticket: z.string().max(100).nullable(),
    machine: z.string().max(200),
    services: z
      .array(
        z
          .object({
            name: z.string().max(200),
            protocol: z.enum(["tcp", "udp"]),
            port: z.number().int().min(1).max(65535),
            mode: z.string().max(40),
          })
          .strict(),
      )
      .max(256),
    /** How long the session lasts from its final approval, in seconds. */
    durationSeconds: z.number().int().min(0),
    requestedAt: isoTime,
    /** When the request expires undecided. */
    decideBy: isoTime,
    policy: z.enum(["operator_approval", "two_party"]),
    /** Two-party: the operator approved already, the request waits for the portal. */
    operatorApproved: z.boolean(),
    customerApproved: z.boolean(),
  })
  .strict();
export type PendingRequest = z.infer<typeof pendingRequestSchema>;

/** Where the operator decided a request: on the gateway's UI or through its local API. */
export const DECISION_PLACES = ["gateway UI", "local API"] as const;

/** The operator's Allow or Deny of a pending request (POST /requests/:id/decision). */
export const requestDecisionSchema = z
  .object({ decision: z.enum(["allow", "deny"]), where: z.enum(DECISION_PLACES) })
  .strict();
export type RequestDecision = z.infer<typeof requestDecisionSchema>;

/**
 * What the decision did: granted (the technician may connect), approved_partly (two-party: waits
 * for a customer approver), denied, or already_approved / already_denied (a repeat: nothing changed).
 */
export const requestDecisionResponseSchema = z
  .object({
    outcome: z.enum(["granted", "approved_partly", "already_approved", "denied", "already_denied"]),
    message: z.string().max(500),
  })
  .strict();
export type RequestDecisionResponse = z.infer<typeof requestDecisionResponseSchema>;

/**
 * An occurrence of one of the gateway's maintenance windows, open now or starting within a day:
 * the agent arms its data channel at `start` (as if the operator had pressed Connect) and disarms
 * it at `end` if it armed it.
 */
export const maintenanceWindowSchema = z
  .object({
    id: uuid,
    start: isoTime,
    end: isoTime,
    reason: z.string().max(500),
    createdBy: z.string().max(300),
  })
  .strict();

/**
 * A maintenance window as the operator creates it on the gateway's UI: ISO times, technicians' and
 * services' ids (none: all), mode.
 */
export const windowRequestSchema = z
  .object({
    start: z.string().max(40),
    end: z.string().max(40),
    weekly: z.boolean().default(false),
    technicians: z.array(uuid).max(100).default([]),
    services: z.array(uuid).max(100).default([]),
    mode: z.enum(["full", "read_only"]).default("full"),
    reason: z.string().max(200),
  })
  .strict();

/** One of the gateway's windows, as its operator UI lists them. */
export const gatewayWindowSchema = z
  .object({
    id: uuid,
    start: isoTime,
    end: isoTime,
    weekly: z.boolean(),
    technicians: z.array(z.string().max(200)).max(100),
    services: z.array(z.string().max(200)).max(100),
    mode: z.string().max(20),
    reason: z.string().max(200),
    origin: z.enum(["gateway", "portal"]),
    createdBy: z.string().max(300),
    state: z.enum(["open", "upcoming", "over", "cancelled"]),
  })
  .strict();

export const gatewayWindowsResponseSchema = z
  .object({
    windows: z.array(gatewayWindowSchema).max(1000),
    /** What a window may name: the customer's technicians and the enabled services. */
    technicians: z.array(z.object({ id: uuid, name: z.string().max(200) }).strict()).max(1000),
    services: z.array(z.object({ id: uuid, name: z.string().max(400) }).strict()).max(1000),
  })
  .strict();

export const heartbeatResponseSchema = z
  .object({
    serverTime: isoTime,
    /** The gateway's data channel as the platform sees it; null when there is none. */
    dataChannel: z
      .object({
        gatewaySessionId: uuid,
        state: z.enum(["connecting", "online", "closed"]),
        closeReason: z.string().max(200).nullable(),
        /** Closed by a technician or an admin: only the operator may connect again. */
        operatorMustReconnect: z.boolean(),
      })
      .strict()
      .nullable(),
    remoteSessions: z.array(gatewayRemoteSessionSchema).max(1000),
    maintenanceSessions: z.array(maintenanceSessionSchema).max(100),
    /** Only to agents with the "maintenance-windows" capability: occurrences within a day. */
    maintenanceWindows: z.array(maintenanceWindowSchema).max(500).optional(),
    /**
     * The newest signed settings of this gateway (a "gateway-settings" envelope): SSH and the
     * operator UI's reach; null while a platform admin never set any (the defaults apply).
     */
    settings: z.string().max(64_000).nullable(),
    /**
     * Requests waiting for this gateway's operator, oldest first; sent only to agents with the
     * "consent-requests" capability (an older agent refuses a field it does not know).
     */
    pendingRequests: z.array(pendingRequestSchema).max(100).optional(),
  })
  .strict();

/**
 * A data channel is requested by the operator's Connect (`reconnectOf` null) or automatically after
 * a fault (`reconnectOf` the lost channel), which the platform refuses when that channel was closed
 * by a technician or an admin.
 */
export const dataChannelRequestSchema = z
  .object({
    reconnectOf: uuid.nullable().default(null),
    /**
     * "tcp": the gateway reaches the platform only through an HTTP proxy, which carries OpenVPN
     * over TCP only; the platform then picks one of its TCP servers (or refuses: none).
     */
    transport: z.enum(["any", "tcp"]).default("any"),
    /** Armed by the agent itself at a maintenance window's start: that window (audited). */
    windowId: uuid.optional(),
  })
  .strict();

export const dataChannelResponseSchema = z
  .object({ envelope: z.string().max(100_000), gatewaySessionId: uuid })
  .strict();

/**
 * The operator's Disconnect, reported for the data channel it ended (null: whatever is open), so a
 * late report never closes a newer channel.
 */
export const disconnectRequestSchema = z
  .object({
    gatewaySessionId: uuid.nullable().default(null),
    /** Disarmed by the agent itself at this maintenance window's end (audited as the window's). */
    windowId: uuid.optional(),
  })
  .strict();

/** The operator's Disconnect, reported: whether a data channel was open. */
export const disconnectResponseSchema = z.object({ closed: z.boolean() }).strict();

/** Long-poll answer: signed command envelopes newer than the gateway's cursor. */
export const commandsResponseSchema = z
  .object({ cursor: z.number().int().min(0), commands: z.array(z.string().max(10_000)).max(100) })
  .strict();

/** Every error of the gateway API. */
export const apiErrorSchema = z
  .object({ error: z.object({ status: z.number().int(), message: z.string() }) })
  .strict();

/** What a gateway sends (fields with defaults may be left out by older agents). */
export type HeartbeatRequest = z.input<typeof heartbeatRequestSchema>;
/** A heartbeat as the platform reads it after parsing: every field present. */
export type HeartbeatReport = z.infer<typeof heartbeatRequestSchema>;
export type HeartbeatResponse = z.infer<typeof heartbeatResponseSchema>;
export type GatewayRemoteSession = z.infer<typeof gatewayRemoteSessionSchema>;
export type MaintenanceSession = z.infer<typeof maintenanceSessionSchema>;
export type MaintenanceWindowOccurrence = z.infer<typeof maintenanceWindowSchema>;
export type WindowRequest = z.input<typeof windowRequestSchema>;
export type GatewayWindow = z.infer<typeof gatewayWindowSchema>;
export type GatewayWindowsResponse = z.infer<typeof gatewayWindowsResponseSchema>;
export type SshEvent = z.infer<typeof sshEventSchema>;
export type DataChannelRequest = z.infer<typeof dataChannelRequestSchema>;
