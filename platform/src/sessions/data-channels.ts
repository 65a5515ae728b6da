// Gateways' data channels: the operator's Connect (a one-time certificate in an envelope signed for
// that gateway only), the rule for automatic reconnects, and the operator's Disconnect.
import { and, eq, ne } from "drizzle-orm";
import { type Context, requirePermission } from "../access/index.ts";
import { type Actor, recordAudit, SYSTEM_ACTOR } from "../audit/index.ts";
import { type Db, gatewaySessions, gateways, inTransaction } from "../db/index.ts";
import { getGateway } from "../masterdata/index.ts";
import type { Pki } from "../pki/index.ts";
import { type Clock, NotFoundError, StateError, UnavailableError } from "../shared/index.ts";
import type { ServerInstance } from "./data-plane.ts";
import type { SessionEnds } from "./ends.ts";
import type { AccessGate } from "./gate.ts";
import type { GatewaySession } from "./model.ts";
import { instanceOf, oneTimeProfile, type ProfilePki } from "./profiles.ts";
import { openGatewaySession } from "./queries.ts";
import { type CloseReason, operatorMustReconnect } from "./reasons.ts";
import { allocateTunnelAddress } from "./tunnel.ts";

export interface DataChannelsDeps {
  db: Db;
  clock: Clock;
  pki: ProfilePki &
    Pick<Pki, "signEnvelope"> & {
      policy: { gatewaySeconds: number; dataChannelSeconds: number };
    };
  gate: AccessGate;
  ends: Pick<SessionEnds, "closeGatewaySession">;
  instances: ServerInstance[];
  vpnHost: string;
  /** This platform instance, whose OpenVPN servers hold the channels it makes. */
  instanceId?: string | null;
}

/** Whether a gateway's automatic reconnect after a fault may have a new data channel. */
export type ReconnectVerdict =
  | { ok: true }
  | { ok: false; unknown: true }
  | { ok: false; unknown: false; closedFor: CloseReason };

export class DataChannels {
  constructor(private readonly deps: DataChannelsDeps) {}

  /** The gateway's data channel that is not closed, or null. */
  open(gatewayId: string): Promise<GatewaySession | null> {
    return openGatewaySession(this.deps.db, gatewayId);
  }

  /**
   * The operator pressed Connect: a new gateway session (an open one is replaced) with a one-time
   * certificate, delivered as a data-channel envelope signed for this gateway only. `transport`
   * "tcp": the gateway goes through an HTTP proxy, so only a TCP server will do. `abandoned`: the
   * gateway's request; once it has given up waiting (its timeout, e.g. while the database was
   * away) nothing is changed — else the late answer would replace the channel its next attempt
   * brought online (UnavailableError).
   */
  async request(
    gatewayId: string,
    transport: "any" | "tcp" = "any",
    abandoned?: AbortSignal,
  ): Promise<{ envelope: string; session: GatewaySession }> {
    const { db, pki } = this.deps;
    this.deps.gate.require();
    const [gateway] = await db.select().from(gateways).where(eq(gateways.id, gatewayId));
    if (!gateway) throw new NotFoundError("Gateway");
    const previous = await this.open(gateway.id);
    const givenUp = (what: string) => {
      if (abandoned?.aborted)
        throw new UnavailableError(
          `The gateway gave up waiting for this data channel before the platform could answer: ${what}.`,
        );
    };
    givenUp("nothing was changed");
    if (previous) await this.deps.ends.closeGatewaySession(previous.id, "replaced", SYSTEM_ACTOR);
    // The close may have waited too: a channel made now would sit beside the gateway's next one.
    givenUp("the open channel was closed, no new one was made");
    const actor: Actor = { id: null, name: `gateway ${gateway.name}`, ip: null };
    const { session, credentials, profile, now } = await this.newChannel(gateway, actor, transport);
    const { token } = await pki.signEnvelope({
      kind: "data-channel",
      audience: gateway.id,
      issuedAt: now,
      expiresAt: credentials.firstUseBy,
      body: { gatewaySessionId: session.id, profile },
    });
    return { envelope: token, session };
  }

  /**
   * The person at the plant pressed "Go online" on a workstation, signed in to the portal on that
   * PC: a one-time .ovpn (returned, never stored) for its stock OpenVPN client, valid for one
   * connection within the config window. A workstation online already gets no second config.
   */
  async goOnline(
    ctx: Context,
    gatewayId: string,
  ): Promise<{ profile: string; session: GatewaySession } | { online: GatewaySession }> {
    const gateway = await this.workstation(ctx, gatewayId);
    this.deps.gate.require();
    const open = await this.open(gateway.id);
    if (open?.state === "online") return { online: open };
    if (open) await this.deps.ends.closeGatewaySession(open.id, "replaced", ctx.caller.actor);
    const { session, profile } = await this.newChannel(gateway, ctx.caller.actor);
    return { session, profile };
  }

  /** "Go offline": the workstation's tunnel closes, the remote sessions to it end. */
  async goOffline(ctx: Context, gatewayId: string): Promise<boolean> {
    const gateway = await this.workstation(ctx, gatewayId);
    const open = await this.open(gateway.id);
    if (open) await this.deps.ends.closeGatewaySession(open.id, "operator", ctx.caller.actor);
    return open !== null;
  }

  /** A workstation the caller may bring online and offline (404 if they cannot see it). */
  private async workstation(ctx: Context, gatewayId: string) {
    const gateway = await getGateway(ctx, gatewayId);
    if (gateway.kind !== "workstation")
      throw new StateError(
        "ERR_NOT_A_WORKSTATION",
        "Only a workstation goes online from the portal: a gateway's operator presses Connect on it.",
      );
    requirePermission(ctx.caller, "workstations.arm", gateway.customerId, gateway.siteId);
    return gateway;
  }

  /**
   * A new data channel for `gateway`: the session (audited) and its one-time profile, on a TCP
   * server when `transport` is "tcp" (through an HTTP proxy).
   */
  private async newChannel(
    gateway: { id: string; customerId: string },
    actor: Actor,
    transport: "any" | "tcp" = "any",
  ) {
    const { db, clock, pki } = this.deps;
    const instance = instanceOf(this.deps.instances, await this.leastBusyInstance(transport));
    const now = clock.now();
    const endsAt = new Date(now.getTime() + pki.policy.dataChannelSeconds * 1000);
    const session = await inTransaction(db, async (tx) => {
      const tunnelAddress = await allocateTunnelAddress(tx, instance.index, instance.tunnelNetwork);
      const [row] = await tx
        .insert(gatewaySessions)
        .values({
          gatewayId: gateway.id,
          customerId: gateway.customerId,
          state: "connecting",
          vpnInstance: instance.index,
          instanceId: this.deps.instanceId ?? null,
          tunnelAddress,
          requestedAt: now,
          endsAt,
        })
        .returning();
      if (!row) throw new Error("gateway session not stored");
      await recordAudit(tx, clock, {
        actor,
        action: "gateway_session.request",
        target: { type: "gateway", id: gateway.id },
        customerId: gateway.customerId,
        detail: { gatewaySessionId: row.id, vpnInstance: instance.index, tunnelAddress },
      });
      return row;
    });
    const { credentials, profile } = await oneTimeProfile(
      pki,
      this.deps.vpnHost,
      {
        kind: "gateway",
        id: session.id,
        firstUseBy: new Date(now.getTime() + pki.policy.gatewaySeconds * 1000),
        endsAt,
      },
      instance,
      [],
    );
    return { session, credentials, profile, now };
  }

  /**
   * The agent's automatic reconnect names the channel it lost: refused when that is not this
   * gateway's, or when a technician or an admin closed it (only the operator re-arms).
   */
  async reconnect(gatewayId: string, lost: string): Promise<ReconnectVerdict> {
    const [previous] = await this.deps.db
      .select()
      .from(gatewaySessions)
      .where(and(eq(gatewaySessions.id, lost), eq(gatewaySessions.gatewayId, gatewayId)));
    if (!previous) return { ok: false, unknown: true };
    if (operatorMustReconnect(previous.closeReason))
      return { ok: false, unknown: false, closedFor: previous.closeReason ?? "operator" };
    return { ok: true };
  }

  /**
   * The operator pressed Disconnect: the named data channel (or the open one) closes, its remote
   * sessions end. A report naming an older channel closes nothing. Returns whether one closed.
   */
  async operatorDisconnect(gatewayId: string, named: string | null, actor: Actor) {
    const newest = await this.open(gatewayId);
    const open = named === null || newest?.id === named ? newest : null;
    if (open) await this.deps.ends.closeGatewaySession(open.id, "operator", actor);
    return open !== null;
  }

  /** The least busy OpenVPN server. */
  private async leastBusyInstance(transport: "any" | "tcp"): Promise<number> {
    const instances = this.deps.instances.filter(
      (i) => transport === "any" || i.protocol === "tcp",
    );
    if (this.deps.instances.length === 0)
      throw new StateError("ERR_NO_VPN_SERVER", "No OpenVPN server is configured.");
    if (instances.length === 0)
      throw new StateError(
        "ERR_NO_TCP_VPN_SERVER",
        "The gateway reaches the platform through an HTTP proxy, which carries OpenVPN over TCP only, and no OpenVPN server here listens on TCP (MEETPOINT_VPN_LISTEN).",
      );
    // This instance's servers carry only its own channels.
    const here = this.deps.instanceId;
    const open = await this.deps.db
      .select({ instance: gatewaySessions.vpnInstance })
      .from(gatewaySessions)
      .where(
        and(
          ne(gatewaySessions.state, "closed"),
          here ? eq(gatewaySessions.instanceId, here) : undefined,
        ),
      );
    const load = new Map<number, number>();
    for (const row of open) load.set(row.instance, (load.get(row.instance) ?? 0) + 1);
    return (
      instances.map((i) => i.index).sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0))[0] ?? 0
    );
  }
}
