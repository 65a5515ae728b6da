// The control channel (/api/gateway/v1, JSON over HTTPS with the pinned platform CA): what a gateway
// sends and what the platform answers. Both sides parse with these schemas.
import { z } from "zod";

const uuid = z.uuid({ error: "must be a UUID" });
const isoTime = z.iso.datetime({ offset: true, error: "must be an ISO 8601 time" });
const ipv4 = z.ipv4({ error: "must be an IPv4 address" });

/** The gateway agent's own view of its state, as the operator sees it. */
export const AGENT_STATES = ["idle", "connecting", "online", "reconnecting"] as const;
export type AgentState = (typeof AGENT_STATES)[number];

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
  })
  .strict();

/** One enabled service of a remote session, with where the gateway translates it to. */
export const sessionServiceSchema = z
  .object({
    name: z.string().max(200),
    protocol: z.enum(["tcp", "udp"]),
    port: z.number().int().min(1).max(65535),
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
    since: isoTime,
    until: isoTime,
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
  })
  .strict();

/**
 * A data channel is requested by the operator's Connect (`reconnectOf` null) or automatically after
 * a fault (`reconnectOf` the lost channel), which the platform refuses when that channel was closed
 * by a technician or an admin.
 */
export const dataChannelRequestSchema = z
  .object({ reconnectOf: uuid.nullable().default(null) })
  .strict();

export const dataChannelResponseSchema = z
  .object({ envelope: z.string().max(100_000), gatewaySessionId: uuid })
  .strict();

/**
 * The operator's Disconnect, reported for the data channel it ended (null: whatever is open), so a
 * late report never closes a newer channel.
 */
export const disconnectRequestSchema = z
  .object({ gatewaySessionId: uuid.nullable().default(null) })
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

export type HeartbeatRequest = z.infer<typeof heartbeatRequestSchema>;
export type HeartbeatResponse = z.infer<typeof heartbeatResponseSchema>;
export type GatewayRemoteSession = z.infer<typeof gatewayRemoteSessionSchema>;
export type DataChannelRequest = z.infer<typeof dataChannelRequestSchema>;
