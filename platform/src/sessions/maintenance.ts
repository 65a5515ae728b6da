import { type Context, requirePermission } from "../access/index.ts";
import { recordAudit } from "../audit/index.ts";
import { type Db, inTransaction, remoteSessions } from "../db/index.ts";
import { getGateway } from "../masterdata/index.ts";
import { type Clock, parseInput, StateError } from "../shared/index.ts";
import type { ServerInstance } from "./data-plane.ts";
import type { SessionEnds } from "./ends.ts";
import type { AccessGate } from "./gate.ts";
import { type RemoteSession, requestInput } from "./model.ts";
import { oneTimeProfile, type ProfilePki, type ServerOf, serverFor } from "./profiles.ts";
import { openGatewaySession } from "./queries.ts";
import { allocateTunnelAddress } from "./tunnel.ts";

/** The gateway's SSH server, as maintenance sessions are granted to it. */
export const MAINTENANCE_SERVICE = {
  serviceId: "gateway-ssh",
  name: "SSH maintenance",
  protocol: "tcp",
  port: 22,
} as const;

export interface MaintenanceSessionsDeps {
  db: Db;
  clock: Clock;
  pki: ProfilePki & { policy: { technicianSeconds: number } };
  gate: AccessGate;
  ends: Pick<SessionEnds, "refreshGateway">;
  instances: ServerInstance[];
  /**
   * `host`: this instance's OpenVPN host; `serverOf`: the server of another instance holding a
   * channel (instances/registry.ts), for configs that must reach *that* kernel.
   */
  vpn: { host: string; remoteSessionSeconds: number; serverOf?: ServerOf };
}

export class MaintenanceSessions {
  constructor(private readonly deps: MaintenanceSessionsDeps) {}

  /**
   * A platform admin asks for SSH to a connect gateway (which must be online): a maintenance
   * session and its one-time .ovpn (returned, never stored), for the gateway's tunnel address.
   */
  async request(
    ctx: Context,
    gatewayId: string,
    input: unknown,
  ): Promise<{ session: RemoteSession; profile: string; target: string }> {
    const { db, clock, pki } = this.deps;
    const gateway = await getGateway(ctx, gatewayId);
    requirePermission(ctx.caller, "gateways.maintain", gateway.customerId);
    if (gateway.kind !== "connect")
      throw new StateError(
        "ERR_NOT_A_CONNECT_GATEWAY",
        "Only a connect gateway has an SSH server for maintenance.",
      );
    const { reason } = parseInput(requestInput, input);
    this.deps.gate.require();
    const channel = await openGatewaySession(db, gateway.id);
    if (channel?.state !== "online")
      throw new StateError(
        "ERR_GATEWAY_OFFLINE",
        "The gateway is offline: maintenance goes through its data channel, which the operator at the gateway opens with Connect.",
      );
    const { host, instance } = await serverFor(this.deps, channel.instanceId, channel.vpnInstance);
    const now = clock.now();
    const session = await inTransaction(db, async (tx) => {
      const tunnelAddress = await allocateTunnelAddress(tx, instance.index, instance.tunnelNetwork);
      const [row] = await tx
        .insert(remoteSessions)
        .values({
          kind: "maintenance",
          customerId: gateway.customerId,
          machineId: null,
          gatewaySessionId: channel.id,
          technicianId: ctx.caller.principal.userId,
          reason,
          state: "requested",
          services: [MAINTENANCE_SERVICE],
          proxyAddress: channel.tunnelAddress,
          vpnInstance: instance.index,
          instanceId: channel.instanceId,
          tunnelAddress,
          requestedAt: now,
          configExpiresAt: new Date(now.getTime() + pki.policy.technicianSeconds * 1000),
          endsAt: new Date(now.getTime() + this.deps.vpn.remoteSessionSeconds * 1000),
        })
        .returning();
      if (!row) throw new Error("maintenance session not stored");
      await recordAudit(tx, clock, {
        actor: ctx.caller.actor,
        action: "remote_session.request",
        target: { type: "gateway", id: gateway.id },
        customerId: gateway.customerId,
        detail: {
          remoteSessionId: row.id,
          kind: "maintenance",
          reason,
          services: ["tcp/22"],
          target: channel.tunnelAddress,
          endsAt: row.endsAt.toISOString(),
        },
      });
      return row;
    });
    const { profile } = await oneTimeProfile(
      pki,
      host,
      {
        kind: "technician",
        id: session.id,
        firstUseBy: session.configExpiresAt,
        endsAt: session.endsAt,
      },
      instance,
      [],
    );
    // The gateway opens its SSH server to the tunnel for the session's time, and says who.
    await this.deps.ends.refreshGateway(channel.id, "maintenance session requested");
    return { session, profile, target: channel.tunnelAddress };
  }
}
