// The shapes sessions are handled in, and small helpers every part of the session rules uses.

import { z } from "zod";
import type { Db, gatewaySessions, remoteSessions } from "../db/index.ts";
import type { Grant } from "../firewall/index.ts";
import type { ProxyPool } from "../masterdata/index.ts";
import type { Pki } from "../pki/index.ts";
import type { Clock } from "../shared/index.ts";
import type { DataPlane } from "./data-plane.ts";
import type { EndReason, SessionTimes } from "./lifecycle.ts";

export type GatewaySession = typeof gatewaySessions.$inferSelect;
export type RemoteSession = typeof remoteSessions.$inferSelect;

export interface SessionDeps {
  db: Db;
  clock: Clock;
  pki: Pki;
  dataPlane: DataPlane;
  proxyPool: ProxyPool;
  vpn: { host: string; remoteSessionSeconds: number };
}

/** What the platform answers an OpenVPN connection: its per-client config, or why not. */
export type ConnectionDecision =
  | { allow: true; config: string[] }
  | { allow: false; reason: string };

export const requestInput = z.object({
  reason: z
    .string({ error: "is required" })
    .trim()
    .min(3, "say why you connect (at least 3 characters)")
    .max(200),
});

export const timesOf = (s: RemoteSession): SessionTimes => ({
  state: s.state,
  requestedAt: s.requestedAt,
  configExpiresAt: s.configExpiresAt,
  endsAt: s.endsAt,
  activatedAt: s.activatedAt,
  endedAt: s.endedAt,
  endReason: s.endReason as EndReason | null,
});

export function grantsOf(session: RemoteSession): Grant[] {
  return session.services.map((s) => ({
    technicianAddress: session.tunnelAddress,
    proxyAddress: session.proxyAddress,
    protocol: s.protocol,
    port: s.port,
  }));
}
