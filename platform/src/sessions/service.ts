// Remote sessions and gateway sessions: requests, connection decisions, ends — each step audited,
// each end cutting traffic (grants removed, flows forgotten, connections killed, certificates revoked).
import { formatCidr } from "@meetpoint/common";

import { and, desc, eq, getTableColumns, inArray, lte, ne, or } from "drizzle-orm";
import type { Context } from "../access/index.ts";
import { checkId, inScope, scopeOf } from "../access/index.ts";
import { type Actor, recordAudit, SYSTEM_ACTOR } from "../audit/index.ts";
import {
  gatewaySessions,
  gateways,
  inTransaction,
  machines,
  remoteSessions,
  users,
} from "../db/index.ts";
import { type Grant, grantElement } from "../firewall/index.ts";
import { GatewayCommands } from "../gateways/commands.ts";
import { blockOf } from "../masterdata/proxy-pool.ts";
import { ConflictError, ForbiddenError, NotFoundError, UnavailableError } from "../shared/index.ts";
import * as connections from "./connections.ts";

import { type EndReason, nextState } from "./lifecycle.ts";
import {
  type ConnectionDecision,
  type GatewaySession,
  grantsOf,
  type RemoteSession,
  type SessionDeps,
  timesOf,
} from "./model.ts";
import * as requests from "./requests.ts";

export type { ConnectionDecision, GatewaySession, RemoteSession, SessionDeps } from "./model.ts";

/** Close reasons after which only the operator at the gateway may connect its data channel again. */
const CLOSED_FOR_OPERATOR = "remote session ended by ";

/** Whether a gateway session closed for `reason` may come back only by the operator's Connect. */
export function operatorMustReconnect(reason: string | null): boolean {
  return reason?.startsWith(CLOSED_FOR_OPERATOR) ?? false;
}

export class Sessions {
  /** Commands for gateways (disconnect, refresh), picked up by their long-poll. */
  readonly commands: GatewayCommands;
  /**
   * Set while access is cut because the database was lost, until the cut is recorded (see
   * cutForLostDatabase): nothing new is granted meanwhile, or the recording would end it at once.
   */
  cutForDatabase = false;

  constructor(readonly deps: SessionDeps) {
    this.commands = new GatewayCommands(deps.pki, deps.clock);
  }

  /** Tells a gateway to fetch its state now (a remote session through it began or changed). */
  async refreshGateway(gatewaySessionId: string, reason: string): Promise<void> {
    const [session] = await this.db
      .select({ gatewayId: gatewaySessions.gatewayId })
      .from(gatewaySessions)
      .where(eq(gatewaySessions.id, gatewaySessionId));
    if (session)
      await this.commands.send(session.gatewayId, {
        command: "refresh",
        reason,
        gatewaySessionId,
      });
  }

  get db() {
    return this.deps.db;
  }

  instance(index: number) {
    const instance = this.deps.dataPlane.instances.find((i) => i.index === index);
    if (!instance) throw new Error(`OpenVPN server ${index} is not configured`);
    return instance;
  }

  requireDataPlane(): void {
    if (this.cutForDatabase)
      throw new UnavailableError(
        "The platform lost its database and cut all access; it is recording that now. Try again in a few seconds.",
      );
    const status = this.deps.dataPlane.status();
    if (!status.on) throw new ConflictError(`The platform's data plane is off: ${status.reason}`);
  }

  /** The least busy OpenVPN server. */
  async pickInstance(): Promise<number> {
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
  requestDataChannel(gatewayId: string) {
    return requests.requestDataChannel(this, gatewayId);
  }

  /** A technician pressed Connect: a remote session and its one-time .ovpn (never stored). */
  requestRemoteSession(ctx: Context, machineId: string, input: unknown) {
    return requests.requestRemoteSession(this, ctx, machineId, input);
  }

  /** CLIENT:CONNECT (and REAUTH): the certificate must be one-time-valid and its session ready. */
  decideConnection(connection: string, serial: string): Promise<ConnectionDecision> {
    return connections.decideConnection(this, connection, serial);
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
        `${CLOSED_FOR_OPERATOR}${reason}`,
        actor,
      );
    } else {
      await this.refreshGateway(session.gatewaySessionId, `remote session ended: ${reason}`);
    }
  }

  async applyEnd(
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
      // Only one end is recorded: a disconnect racing the end time finds the session ended.
      const claimed = await tx
        .update(remoteSessions)
        .set({
          state: "ended",
          endedAt: at ?? this.deps.clock.now(),
          endReason: reason,
          endedBy: actor.id,
          flowEvidence: evidence,
        })
        .where(and(eq(remoteSessions.id, session.id), ne(remoteSessions.state, "ended")))
        .returning({ id: remoteSessions.id });
      if (claimed.length === 0) return;
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
      (["operator", "platform_shutdown", "vpn_failure", "database_lost"] as const).find(
        (r) => r === reason,
      ) ?? "gateway_lost";
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
    if (reason !== "operator")
      await this.commands.send(session.gatewayId, {
        command: operatorMustReconnect(reason) ? "disconnect" : "refresh",
        reason,
        gatewaySessionId: session.id,
      });
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
    // Connections the platform cut for lack of its database end for that reason, even when the
    // record is only written once the database is back.
    const cut = this.cutForDatabase;
    const [remote] = await this.db
      .select({ id: remoteSessions.id })
      .from(remoteSessions)
      .where(and(eq(remoteSessions.connection, connection), eq(remoteSessions.state, "active")));
    if (remote)
      await this.endRemoteSession(remote.id, cut ? "database_lost" : "technician", SYSTEM_ACTOR);
    const [gateway] = await this.db
      .select({ id: gatewaySessions.id })
      .from(gatewaySessions)
      .where(and(eq(gatewaySessions.connection, connection), eq(gatewaySessions.state, "online")));
    if (gateway)
      await this.closeGatewaySession(
        gateway.id,
        cut ? "database_lost" : "gateway_lost",
        SYSTEM_ACTOR,
      );
  }

  /** Without the database nothing can be decided or recorded: cut every grant and connection. */
  async cutForLostDatabase(): Promise<void> {
    this.cutForDatabase = true;
    await this.deps.dataPlane.cutAll();
  }

  /** The database is back: what was cut is recorded as ended. Returns how many sessions. */
  async recordDatabaseCut(): Promise<number> {
    const ended = await this.endAll("database_lost");
    this.cutForDatabase = false;
    return ended;
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
      .where(
        and(
          ne(remoteSessions.state, "ended"),
          or(lte(remoteSessions.configExpiresAt, now), lte(remoteSessions.endsAt, now)),
        ),
      );

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

  /** At start and shutdown (and after a database loss): nothing open survives. */
  async endAll(reason: "platform_shutdown" | "database_lost"): Promise<number> {
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
