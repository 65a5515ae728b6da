// The connection decision, pure: given the certificate's session and what surrounds it, what the
// platform answers an OpenVPN connection and what changes with it. connections.ts loads the inputs
// and carries the verdict out.
import { type Cidr, formatIpv4, netmask } from "@meetpoint/common";
import type { EndReason } from "../db/index.ts";
import type { ServerInstance } from "./data-plane.ts";
import { nextState } from "./lifecycle.ts";
import { type GatewaySession, type RemoteSession, timesOf } from "./model.ts";

export type GatewayVerdict =
  | { allow: false; reason: string }
  | { allow: true; config: string[]; goesOnline: boolean; block: Cidr };

/** A gateway's data-channel connection: its tunnel address and proxy block, once. */
export function decideGateway(input: {
  session: GatewaySession;
  connection: string;
  instance: ServerInstance;
  /** The gateway's proxy block; null when the gateway was deleted. */
  block: Cidr | null;
  /** A workstation routes nothing: the platform translates its proxy address to it. */
  workstation?: boolean;
}): GatewayVerdict {
  const { session, connection, instance, block } = input;
  if (session.state === "closed") return { allow: false, reason: "gateway session is closed" };
  if (session.state === "online" && session.connection !== connection)
    return { allow: false, reason: "gateway session is already connected" };
  if (!block) return { allow: false, reason: "gateway was deleted" };
  if (`${instance.index}` !== connection.split(":")[0])
    return { allow: false, reason: "connected to the wrong OpenVPN server" };
  return {
    allow: true,
    goesOnline: session.state === "connecting",
    block,
    config: [
      `ifconfig-push ${session.tunnelAddress} ${netmask(instance.tunnelNetwork.prefix)}`,
      ...(input.workstation ? [] : [`iroute ${formatIpv4(block.base)} ${netmask(block.prefix)}`]),
    ],
  };
}

export type TechnicianVerdict =
  /** The same connection renegotiating its TLS session: nothing changes. */
  | { kind: "renegotiate"; config: string[] }
  /** The one-time config's first connection: the session becomes active. */
  | { kind: "activate"; config: string[]; activatedAt: Date }
  | { kind: "refuse"; reason: string }
  /** Refused, and the session ends for `end` (at the deadline that passed, if one did). */
  | { kind: "refuse"; reason: string; end: EndReason };

/** A technician's connection: allowed once per one-time config, while its session is ready. */
export function decideTechnician(input: {
  session: RemoteSession | null;
  gatewayOnline: boolean;
  connection: string;
  renegotiation: boolean;
  instance: ServerInstance;
  now: Date;
}): TechnicianVerdict {
  const { session, instance } = input;
  if (!session) return { kind: "refuse", reason: "remote session not found" };
  const config = [
    `ifconfig-push ${session.tunnelAddress} ${netmask(instance.tunnelNetwork.prefix)}`,
  ];
  if (input.renegotiation && session.state === "active" && session.connection === input.connection)
    return { kind: "renegotiate", config };
  if (!input.gatewayOnline)
    return {
      kind: "refuse",
      reason: "the gateway is no longer online",
      end: "gateway_lost",
    };
  const transition = nextState(timesOf(session), { type: "connected", at: input.now });
  if (transition.session.state === "active" && transition.changed)
    return {
      kind: "activate",
      config,
      activatedAt: transition.session.activatedAt ?? input.now,
    };
  if (transition.changed)
    return {
      kind: "refuse",
      reason: `session ended (${transition.session.endReason})`,
      end: transition.session.endReason ?? "expiry",
    };
  return { kind: "refuse", reason: transition.refused ?? "session not ready" };
}
