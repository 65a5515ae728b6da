// Remote sessions and gateway sessions: requests, connection decisions, ends — each step audited,
// each end cutting traffic (grants removed, flows forgotten, connections killed, certificates revoked).
import { formatCidr, formatIpv4, renderClientProfile } from "@meetpoint/common";

import { and, desc, eq, getTableColumns, inArray, lte, ne } from "drizzle-orm";

import { z } from "zod";
import { type Actor, recordAudit, SYSTEM_ACTOR } from "../audit/index.ts";
import {
  type Db,
  gatewaySessions,
  gateways,
  inTransaction,
  machines,
  remoteSessions,
  services,
  users,
} from "../db/index.ts";

import { type Grant, grantElement } from "../firewall/index.ts";
import { inScope, scopeOf } from "../identity/index.ts";
import { getMachine, type ProxyPool } from "../masterdata/index.ts";
import { blockOf } from "../masterdata/proxy-pool.ts";
import { checkId } from "../masterdata/scope.ts";
import { type Pki, SERVER_NAME } from "../pki/index.ts";
import type { Clock } from "../shared/clock.ts";
import type { Context } from "../shared/context.ts";
import { ConflictError, ForbiddenError, NotFoundError } from "../shared/errors.ts";
import { parseInput } from "../shared/validate.ts";
import { netmask } from "../vpn/server-config.ts";
import type { DataPlane } from "./data-plane.ts";
import { type EndReason, nextState, type SessionTimes } from "./lifecycle.ts";
import { allocateTunnelAddress } from "./tunnel.ts";

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

const requestInput = z.object({
  reason: z
    .string({ error: "is required" })
    .trim()
    .min(3, "say why you connect (at least 3 characters)")
    .max(200),
});

const timesOf = (s: RemoteSession): SessionTimes => ({
  state: s.state,
  requestedAt: s.requestedAt,
  configExpiresAt: s.configExpiresAt,
  endsAt: s.endsAt,
  activatedAt: s.activatedAt,
  endedAt: s.endedAt,
  endReason: s.endReason as EndReason | null,
});

function grantsOf(session: RemoteSession): Grant[] {
  return session.services.map((s) => ({
    technicianAddress: session.tunnelAddress,
    proxyAddress: session.proxyAddress,
    protocol: s.protocol,
    port: s.port,
  }));
}

export class Sessions {
  constructor(readonly deps: SessionDeps) {}

  private get db() {
    return this.deps.db;
  }

  private instance(index: number) {
    const instance = this.deps.dataPlane.instances.find((i) => i.index === index);
    if (!instance) throw new Error(`OpenVPN server ${index} is not configured`);
    return instance;
  }

  private requireDataPlane(): void {
    const status = this.deps.dataPlane.status();
    if (!status.on) throw new ConflictError(`The platform's data plane is off: ${status.reason}`);
  }

  /** The least busy OpenVPN server. */
  private async pickInstance(): Promise<number> {
    const instances = this.deps.dataPlane.instances;
    if (instances.length === 0) throw new ConflictError("No OpenVPN server is configured.");
    const open = await this.db
      .select({ instance: gatewaySessions.vpnInstance })
      .from(gatewaySessions)
      .where(ne(gatewaySessions.state, "closed"));
    const load = new Map<number, number>();
    for (const row of open) load.set(row.instance, (load.get(row.instance) ?? 0) + 1);
    return (
      instances.map((i) => i.index).sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0))[0] ?? 0
    );
  }

  async openGatewaySession(gatewayId: string): Promise<GatewaySession | null> {
    const [row] = await this.db
      .select()
      .from(gatewaySessions)
      .where(and(eq(gatewaySessions.gatewayId, gatewayId), ne(gatewaySessions.state, "closed")))
      .orderBy(desc(gatewaySessions.requestedAt))
      .limit(1);
    return row ?? null;
  }

  /**
   * The operator pressed Connect: a new gateway session (an open one is replaced) with a one-time
   * certificate, delivered as a data-channel envelope signed for this gateway only.
   */
  async requestDataChannel(
    gatewayId: string,
  ): Promise<{ envelope: string; session: GatewaySession }> {
    this.requireDataPlane();
    const [gateway] = await this.db.select().from(gateways).where(eq(gateways.id, gatewayId));
    if (!gateway) throw new ConflictError("Unknown gateway.");
    const previous = await this.openGatewaySession(gateway.id);
    if (previous) await this.closeGatewaySession(previous.id, "replaced", SYSTEM_ACTOR);
    const instance = this.instance(await this.pickInstance());
    const now = this.deps.clock.now();
    const actor: Actor = { id: null, name: `gateway ${gateway.name}`, ip: null };
    const session = await inTransaction(this.db, async (tx) => {
      const tunnelAddress = await allocateTunnelAddress(tx, instance.index, instance.tunnelNetwork);
      const [row] = await tx
        .insert(gatewaySessions)
        .values({
          gatewayId: gateway.id,
          customerId: gateway.customerId,
          state: "connecting",
          vpnInstance: instance.index,
          tunnelAddress,
          requestedAt: now,
        })
        .returning();
      if (!row) throw new Error("gateway session not stored");
      await recordAudit(tx, this.deps.clock, {
        actor,
        action: "gateway_session.request",
        target: { type: "gateway", id: gateway.id },
        customerId: gateway.customerId,
        detail: { gatewaySessionId: row.id, vpnInstance: instance.index, tunnelAddress },
      });
      return row;
    });
    const credentials = await this.deps.pki.issueClientCertificate("gateway", session.id);
    const profile = renderClientProfile({
      remotes: [{ host: this.deps.vpn.host, port: instance.port, protocol: instance.protocol }],
      serverName: SERVER_NAME,
      caPem: await this.deps.pki.trustBundlePem(),
      certificatePem: credentials.certificatePem,
      privateKeyPem: credentials.privateKeyPem,
      tlsCryptKey: this.deps.pki.tlsCryptKey,
      routes: [],
    });
    const { token } = await this.deps.pki.signEnvelope({
      kind: "data-channel",
      audience: gateway.id,
      issuedAt: now,
      expiresAt: credentials.notAfter,
      body: { gatewaySessionId: session.id, profile },
    });
    return { envelope: token, session };
  }

  /**
   * A technician pressed Connect on a machine: a remote session for the machine's enabled services,
   * with a one-time .ovpn (returned, never stored) valid until the certificate expires.
   */
  async requestRemoteSession(
    ctx: Context,
    machineId: string,
    input: unknown,
  ): Promise<{ session: RemoteSession; profile: string }> {
    const machine = await getMachine(ctx, machineId);
    if (!inScope(scopeOf(ctx.caller.principal, "sessions.connect"), machine.customerId)) {
      throw new ForbiddenError("Only technicians of this customer can connect to its machines.");
    }
    const { reason } = parseInput(requestInput, input);
    this.requireDataPlane();
    const gatewaySession = await this.openGatewaySession(machine.gatewayId);
    if (gatewaySession?.state !== "online") {
      throw new ConflictError(
        "The gateway is offline: the operator at the machine has to press Connect first.",
      );
    }
    const enabled = await this.db
      .select()
      .from(services)
      .where(and(eq(services.machineId, machine.id), eq(services.enabled, true)));
    if (enabled.length === 0)
      throw new ConflictError(
        "This machine has no enabled service: there is nothing to connect to.",
      );
    const instance = this.instance(gatewaySession.vpnInstance);
    const now = this.deps.clock.now();
    const policy = this.deps.pki.policy;
    const session = await inTransaction(this.db, async (tx) => {
      const tunnelAddress = await allocateTunnelAddress(tx, instance.index, instance.tunnelNetwork);
      const [row] = await tx
        .insert(remoteSessions)
        .values({
          customerId: machine.customerId,
          machineId: machine.id,
          gatewaySessionId: gatewaySession.id,
          technicianId: ctx.caller.principal.userId,
          reason,
          state: "requested",
          services: enabled.map((s) => ({
            serviceId: s.id,
            name: s.name,
            protocol: s.protocol,
            port: s.port,
          })),
          proxyAddress: machine.proxyAddress,
          vpnInstance: instance.index,
          tunnelAddress,
          requestedAt: now,
          configExpiresAt: new Date(now.getTime() + policy.technicianSeconds * 1000),
          endsAt: new Date(now.getTime() + this.deps.vpn.remoteSessionSeconds * 1000),
        })
        .returning();
      if (!row) throw new Error("remote session not stored");
      await recordAudit(tx, this.deps.clock, {
        actor: ctx.caller.actor,
        action: "remote_session.request",
        target: { type: "machine", id: machine.id },
        customerId: machine.customerId,
        detail: {
          remoteSessionId: row.id,
          reason,
          services: row.services.map((s) => `${s.protocol}/${s.port}`),
          endsAt: row.endsAt.toISOString(),
        },
      });
      return row;
    });
    const credentials = await this.deps.pki.issueClientCertificate("technician", session.id);
    const profile = renderClientProfile({
      remotes: [{ host: this.deps.vpn.host, port: instance.port, protocol: instance.protocol }],
      serverName: SERVER_NAME,
      caPem: await this.deps.pki.trustBundlePem(),
      certificatePem: credentials.certificatePem,
      privateKeyPem: credentials.privateKeyPem,
      tlsCryptKey: this.deps.pki.tlsCryptKey,
      routes: [machine.proxyAddress],
    });
    return { session, profile };
  }

  /** CLIENT:CONNECT (and REAUTH): the certificate must be one-time-valid and its session ready. */
  async decideConnection(connection: string, serial: string): Promise<ConnectionDecision> {
    const files = this.deps.pki.trustFiles;
    const trustProblem = files
      ? await this.deps.pki.trustFilesProblem(files)
      : "the platform keeps no revocation list";
    if (trustProblem) return this.refuse(connection, `revocation list unusable: ${trustProblem}`);
    const result = await this.deps.pki.authorize(serial, connection);
    if (!result.ok) return this.refuse(connection, `certificate ${result.reason}`);
    if (!result.ownerId) return this.refuse(connection, "certificate has no session");
    return result.kind === "gateway"
      ? this.decideGateway(connection, result.ownerId)
      : this.decideTechnician(connection, result.ownerId, result.renegotiation);
  }

  private async refuse(connection: string, reason: string): Promise<ConnectionDecision> {
    await inTransaction(this.db, (tx) =>
      recordAudit(tx, this.deps.clock, {
        actor: SYSTEM_ACTOR,
        action: "vpn.connection_denied",
        result: "denied",
        detail: { connection, reason },
      }),
    );
    return { allow: false, reason };
  }

  private async decideGateway(connection: string, sessionId: string): Promise<ConnectionDecision> {
    const [session] = await this.db
      .select()
      .from(gatewaySessions)
      .where(eq(gatewaySessions.id, sessionId));
    if (!session || session.state === "closed")
      return this.refuse(connection, "gateway session is closed");
    if (session.state === "online" && session.connection !== connection)
      return this.refuse(connection, "gateway session is already connected");
    const [gateway] = await this.db
      .select()
      .from(gateways)
      .where(eq(gateways.id, session.gatewayId));
    if (!gateway) return this.refuse(connection, "gateway was deleted");
    const instance = this.instance(session.vpnInstance);
    if (`${instance.index}` !== connection.split(":")[0])
      return this.refuse(connection, "connected to the wrong OpenVPN server");
    const block = blockOf(this.deps.proxyPool, gateway.proxyBlock);
    await this.deps.dataPlane.routeProxyBlock(formatCidr(block), instance.index);
    if (session.state === "connecting") {
      await inTransaction(this.db, async (tx) => {
        await tx
          .update(gatewaySessions)
          .set({ state: "online", onlineAt: this.deps.clock.now(), connection })
          .where(eq(gatewaySessions.id, session.id));
        await recordAudit(tx, this.deps.clock, {
          actor: SYSTEM_ACTOR,
          action: "gateway_session.online",
          target: { type: "gateway", id: gateway.id },
          customerId: gateway.customerId,
          detail: { gatewaySessionId: session.id, connection },
        });
      });
    }
    return {
      allow: true,
      config: [
        `ifconfig-push ${session.tunnelAddress} ${netmask(instance.tunnelNetwork.prefix)}`,
        `iroute ${formatIpv4(block.base)} ${netmask(block.prefix)}`,
      ],
    };
  }

  private async decideTechnician(
    connection: string,
    sessionId: string,
    renegotiation: boolean,
  ): Promise<ConnectionDecision> {
    const [session] = await this.db
      .select()
      .from(remoteSessions)
      .where(eq(remoteSessions.id, sessionId));
    if (!session) return this.refuse(connection, "remote session not found");
    const instance = this.instance(session.vpnInstance);
    const config = [
      `ifconfig-push ${session.tunnelAddress} ${netmask(instance.tunnelNetwork.prefix)}`,
    ];
    if (renegotiation && session.state === "active" && session.connection === connection)
      return { allow: true, config };
    const [gatewaySession] = await this.db
      .select()
      .from(gatewaySessions)
      .where(eq(gatewaySessions.id, session.gatewaySessionId));
    if (gatewaySession?.state !== "online") {
      await this.endRemoteSession(session.id, "gateway_lost", SYSTEM_ACTOR);
      return this.refuse(connection, "the gateway is no longer online");
    }
    const transition = nextState(timesOf(session), {
      type: "connected",
      at: this.deps.clock.now(),
    });
    if (transition.session.state !== "active") {
      if (transition.changed)
        await this.applyEnd(
          session,
          transition.session.endReason ?? "expiry",
          SYSTEM_ACTOR,
          transition.session.endedAt,
        );
      return this.refuse(
        connection,
        transition.changed
          ? `session ended (${transition.session.endReason})`
          : (transition.refused ?? "session not ready"),
      );
    }
    await this.deps.dataPlane.changeGrants(grantsOf(session), []);
    await inTransaction(this.db, async (tx) => {
      await tx
        .update(remoteSessions)
        .set({ state: "active", activatedAt: transition.session.activatedAt, connection })
        .where(eq(remoteSessions.id, session.id));
      await recordAudit(tx, this.deps.clock, {
        actor: SYSTEM_ACTOR,
        action: "remote_session.active",
        target: { type: "machine", id: session.machineId },
        customerId: session.customerId,
        detail: { remoteSessionId: session.id, connection, tunnelAddress: session.tunnelAddress },
      });
    });
    return { allow: true, config };
  }

  /** Ends a remote session for `reason`; technician and admin ends also close the gateway's channel. */
  async endRemoteSession(id: string, reason: EndReason, actor: Actor): Promise<void> {
    const [session] = await this.db.select().from(remoteSessions).where(eq(remoteSessions.id, id));
    if (!session || session.state === "ended") return;
    const transition = nextState(timesOf(session), {
      type: "end",
      reason,
      at: this.deps.clock.now(),
    });
    await this.applyEnd(
      session,
      transition.session.endReason ?? reason,
      actor,
      transition.session.endedAt,
    );
    if (reason === "technician" || reason === "admin") {
      await this.closeGatewaySession(
        session.gatewaySessionId,
        `remote session ended by ${reason}`,
        actor,
      );
    }
  }

  private async applyEnd(
    session: RemoteSession,
    reason: EndReason,
    actor: Actor,
    at: Date | null,
  ): Promise<void> {
    const grants = grantsOf(session);
    let evidence:
      | { protocol: "tcp" | "udp"; port: number; packets: number; bytes: number }[]
      | null = null;
    if (session.state === "active" && this.deps.dataPlane.status().on) {
      const counters = await this.deps.dataPlane.grantCounters().catch(() => new Map());
      evidence = grants.map((g) => ({
        protocol: g.protocol,
        port: g.port,
        ...(counters.get(grantElement(g)) ?? { packets: 0, bytes: 0 }),
      }));
      await this.deps.dataPlane.changeGrants([], grants);
      await this.deps.dataPlane.forgetFlows([
        { technicianAddress: session.tunnelAddress, proxyAddress: session.proxyAddress },
      ]);
      if (session.connection) await this.deps.dataPlane.disconnect(session.connection);
    }
    await this.deps.pki.revoke({ ownerId: session.id }, `remote session ended: ${reason}`);
    await inTransaction(this.db, async (tx) => {
      await tx
        .update(remoteSessions)
        .set({
          state: "ended",
          endedAt: at ?? this.deps.clock.now(),
          endReason: reason,
          endedBy: actor.id,
          flowEvidence: evidence,
        })
        .where(eq(remoteSessions.id, session.id));
      await recordAudit(tx, this.deps.clock, {
        actor,
        action: "remote_session.end",
        target: { type: "machine", id: session.machineId },
        customerId: session.customerId,
        detail: {
          remoteSessionId: session.id,
          reason,
          flowEvidence: evidence ?? [],
          bytesIn: session.bytesIn,
          bytesOut: session.bytesOut,
        },
      });
    });
  }

  /** Closes a gateway's data channel; its remote sessions end with it. */
  async closeGatewaySession(id: string, reason: string, actor: Actor): Promise<void> {
    const [session] = await this.db
      .select()
      .from(gatewaySessions)
      .where(eq(gatewaySessions.id, id));
    if (!session || session.state === "closed") return;
    await this.db
      .update(gatewaySessions)
      .set({ state: "closed", closedAt: this.deps.clock.now(), closeReason: reason })
      .where(eq(gatewaySessions.id, id));
    const open = await this.db
      .select({ id: remoteSessions.id })
      .from(remoteSessions)
      .where(and(eq(remoteSessions.gatewaySessionId, id), ne(remoteSessions.state, "ended")));
    const endReason: EndReason =
      (["operator", "platform_shutdown", "vpn_failure"] as const).find((r) => r === reason) ??
      "gateway_lost";
    for (const remote of open) await this.endRemoteSession(remote.id, endReason, actor);
    if (session.connection && this.deps.dataPlane.status().on) {
      await this.deps.dataPlane.disconnect(session.connection);
      const [gateway] = await this.db
        .select()
        .from(gateways)
        .where(eq(gateways.id, session.gatewayId));
      if (gateway)
        await this.deps.dataPlane.routeProxyBlock(
          formatCidr(blockOf(this.deps.proxyPool, gateway.proxyBlock)),
          null,
        );
    }

    await this.deps.pki.revoke({ ownerId: session.id }, `gateway session closed: ${reason}`);
    await inTransaction(this.db, (tx) =>
      recordAudit(tx, this.deps.clock, {
        actor,
        action: "gateway_session.close",
        target: { type: "gateway", id: session.gatewayId },
        customerId: session.customerId,
        detail: { gatewaySessionId: session.id, reason },
      }),
    );
  }

  /** CLIENT:DISCONNECT: a technician who closes the client ends the session; a lost gateway closes its. */
  async connectionClosed(connection: string): Promise<void> {
    const [remote] = await this.db
      .select({ id: remoteSessions.id })
      .from(remoteSessions)
      .where(and(eq(remoteSessions.connection, connection), eq(remoteSessions.state, "active")));
    if (remote) await this.endRemoteSession(remote.id, "technician", SYSTEM_ACTOR);
    const [gateway] = await this.db
      .select({ id: gatewaySessions.id })
      .from(gatewaySessions)
      .where(and(eq(gatewaySessions.connection, connection), eq(gatewaySessions.state, "online")));
    if (gateway) await this.closeGatewaySession(gateway.id, "gateway_lost", SYSTEM_ACTOR);
  }

  /** BYTECOUNT_CLI: traffic totals of a connection. */
  async countBytes(connection: string, bytesIn: number, bytesOut: number): Promise<void> {
    await this.db
      .update(remoteSessions)
      .set({ bytesIn, bytesOut })
      .where(and(eq(remoteSessions.connection, connection), eq(remoteSessions.state, "active")));
    await this.db
      .update(gatewaySessions)
      .set({ bytesIn, bytesOut })
      .where(and(eq(gatewaySessions.connection, connection), eq(gatewaySessions.state, "online")));
  }

  /** Ends every session whose end time (or unused config's expiry) has passed. */
  async tick(): Promise<void> {
    const now = this.deps.clock.now();
    const due = await this.db
      .select()
      .from(remoteSessions)
      .where(and(ne(remoteSessions.state, "ended"), lte(remoteSessions.configExpiresAt, now)));
    for (const session of due) {
      const transition = nextState(timesOf(session), { type: "tick", at: now });
      if (transition.changed)
        await this.applyEnd(
          session,
          transition.session.endReason ?? "expiry",
          SYSTEM_ACTOR,
          transition.session.endedAt,
        );
    }
  }

  /** At start and at shutdown: nothing open survives a platform restart. */
  async endAll(reason: "platform_shutdown"): Promise<number> {
    const open = await this.db
      .select({ id: gatewaySessions.id })
      .from(gatewaySessions)
      .where(ne(gatewaySessions.state, "closed"));
    for (const session of open) await this.closeGatewaySession(session.id, reason, SYSTEM_ACTOR);
    const orphans = await this.db
      .select({ id: remoteSessions.id })
      .from(remoteSessions)
      .where(ne(remoteSessions.state, "ended"));
    for (const session of orphans) await this.endRemoteSession(session.id, reason, SYSTEM_ACTOR);
    return open.length + orphans.length;
  }

  /** An OpenVPN server crashed: its connections are gone, so are their sessions. */
  async endAllOnInstance(instance: number): Promise<void> {
    const gatewaysOn = await this.db
      .select({ id: gatewaySessions.id })
      .from(gatewaySessions)
      .where(and(eq(gatewaySessions.vpnInstance, instance), ne(gatewaySessions.state, "closed")));
    for (const session of gatewaysOn)
      await this.closeGatewaySession(session.id, "vpn_failure", SYSTEM_ACTOR);
    const remotes = await this.db
      .select({ id: remoteSessions.id })
      .from(remoteSessions)
      .where(and(eq(remoteSessions.vpnInstance, instance), ne(remoteSessions.state, "ended")));
    for (const session of remotes)
      await this.endRemoteSession(session.id, "vpn_failure", SYSTEM_ACTOR);
  }

  /** Active grants of all active sessions: what the firewall must hold (reconciliation). */

  async activeGrants(): Promise<Grant[]> {
    const active = await this.db
      .select()
      .from(remoteSessions)
      .where(eq(remoteSessions.state, "active"));
    return active.flatMap(grantsOf);
  }

  /** Sessions of machines the caller may read, newest first. */
  async list(
    ctx: Context,
    filter: { machineId?: string; open?: boolean; id?: string } = {},
  ): Promise<SessionView[]> {
    const scope = scopeOf(ctx.caller.principal, "masterdata.read");
    if (!scope.all && scope.customerIds.length === 0) return [];
    return this.db
      .select({
        ...getTableColumns(remoteSessions),
        machineName: machines.name,
        technicianName: users.displayName,
      })
      .from(remoteSessions)
      .innerJoin(machines, eq(machines.id, remoteSessions.machineId))
      .innerJoin(users, eq(users.id, remoteSessions.technicianId))
      .where(
        and(
          scope.all ? undefined : inArray(remoteSessions.customerId, scope.customerIds),
          filter.id ? eq(remoteSessions.id, filter.id) : undefined,
          filter.machineId ? eq(remoteSessions.machineId, filter.machineId) : undefined,
          filter.open ? ne(remoteSessions.state, "ended") : undefined,
        ),
      )
      .orderBy(desc(remoteSessions.requestedAt))
      .limit(200);
  }

  /**
   * Disconnect from the portal: technicians end their own sessions, admins and customer admins any
   * in their scope. Sessions outside the caller's scope answer 404.
   */
  async disconnect(ctx: Context, id: string): Promise<SessionView> {
    const [session] = await this.list(ctx, { id: checkId(id, "Remote session") });
    if (!session) throw new NotFoundError("Remote session");
    const own = session.technicianId === ctx.caller.principal.userId;
    const manages = inScope(scopeOf(ctx.caller.principal, "sessions.manage"), session.customerId);
    if (!own && !manages)
      throw new ForbiddenError("Only the technician or an admin can end this session.");
    await this.endRemoteSession(session.id, own ? "technician" : "admin", ctx.caller.actor);
    return session;
  }
}

export type SessionView = RemoteSession & { machineName: string; technicianName: string };
