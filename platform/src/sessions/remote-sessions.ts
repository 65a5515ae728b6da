// Technicians' remote sessions in the portal: Connect on a machine (a one-time .ovpn for its enabled
// services), the list of sessions in the caller's scope, and Disconnect / Terminate.
import { and, desc, eq, getTableColumns, inArray, ne, sql } from "drizzle-orm";
import { type Context, checkId, inScope, readable, scopeOf } from "../access/index.ts";
import { recordAudit } from "../audit/index.ts";
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
import { getMachine } from "../masterdata/index.ts";
import {
  type Clock,
  ForbiddenError,
  NotFoundError,
  parseInput,
  StateError,
  ValidationError,
} from "../shared/index.ts";
import type { ServerInstance } from "./data-plane.ts";
import type { SessionEnds } from "./ends.ts";
import type { AccessGate } from "./gate.ts";
import { type RemoteSession, requestInput, type SessionView } from "./model.ts";
import { instanceOf, oneTimeProfile, type ProfilePki } from "./profiles.ts";
import { openGatewaySession } from "./queries.ts";
import { allocateTunnelAddress } from "./tunnel.ts";

export interface RemoteSessionsDeps {
  db: Db;
  clock: Clock;
  pki: ProfilePki & { policy: { technicianSeconds: number } };
  gate: AccessGate;
  ends: Pick<SessionEnds, "endRemoteSession" | "refreshGateway">;
  instances: ServerInstance[];
  vpn: { host: string; remoteSessionSeconds: number };
}

export class RemoteSessions {
  constructor(private readonly deps: RemoteSessionsDeps) {}

  /**
   * A technician pressed Connect on a machine: a remote session for the machine's enabled services,
   * with a one-time .ovpn (returned, never stored) valid until the certificate expires.
   */
  async request(
    ctx: Context,
    machineId: string,
    input: unknown,
    /** The technician's corporate proxy for their .ovpn (`http-proxy`), checked by the caller. */
    options: { httpProxy?: { host: string; port: number } | null } = {},
  ): Promise<{ session: RemoteSession; profile: string }> {
    const { db, clock, pki } = this.deps;
    const machine = await getMachine(ctx, machineId);
    if (!inScope(scopeOf(ctx.caller.principal, "sessions.connect"), machine.customerId)) {
      throw new ForbiddenError("Only technicians of this customer can connect to its machines.");
    }
    const { reason } = parseInput(requestInput, input);
    this.deps.gate.require();
    const gatewaySession = await openGatewaySession(db, machine.gatewayId);
    if (gatewaySession?.state !== "online") {
      throw new StateError(
        "ERR_GATEWAY_OFFLINE",
        "The gateway is offline: the operator at the machine has to press Connect first.",
      );
    }
    const enabled = await db
      .select()
      .from(services)
      .where(and(eq(services.machineId, machine.id), eq(services.enabled, true)));
    if (enabled.length === 0)
      throw new StateError(
        "ERR_NO_ENABLED_SERVICE",
        "This machine has no enabled service: there is nothing to connect to.",
      );
    const instance = instanceOf(this.deps.instances, gatewaySession.vpnInstance);
    if (options.httpProxy && instance.protocol !== "tcp")
      throw new ValidationError(
        "proxyHost",
        "this gateway's data channel runs on an OpenVPN server over UDP, which an HTTP proxy cannot carry: connect without the proxy",
      );
    const now = clock.now();
    const session = await inTransaction(db, async (tx) => {
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
            mode: s.mode,
          })),
          proxyAddress: machine.proxyAddress,
          vpnInstance: instance.index,
          tunnelAddress,
          requestedAt: now,
          configExpiresAt: new Date(now.getTime() + pki.policy.technicianSeconds * 1000),
          endsAt: new Date(now.getTime() + this.deps.vpn.remoteSessionSeconds * 1000),
        })
        .returning();
      if (!row) throw new Error("remote session not stored");
      await recordAudit(tx, clock, {
        actor: ctx.caller.actor,
        action: "remote_session.request",
        target: { type: "machine", id: machine.id },
        customerId: machine.customerId,
        detail: {
          remoteSessionId: row.id,
          reason,
          services: row.services.map(
            (s) =>
              `${s.protocol}/${s.port}${s.mode === "modbus-read-only" ? " read-only Modbus" : ""}`,
          ),
          endsAt: row.endsAt.toISOString(),
        },
      });
      return row;
    });
    const { profile } = await oneTimeProfile(
      pki,
      this.deps.vpn.host,
      {
        kind: "technician",
        id: session.id,
        firstUseBy: session.configExpiresAt,
        endsAt: session.endsAt,
      },
      instance,
      [machine.proxyAddress],
      options.httpProxy ?? null,
    );
    // The gateway opens its side for these services now and shows the operator who and why.
    await this.deps.ends.refreshGateway(gatewaySession.id, "remote session requested");
    return { session, profile };
  }

  /** Sessions to machines (and gateways, for maintenance) the caller may read, newest first (200). */
  async list(
    ctx: Context,
    filter: { machineId?: string; open?: boolean; id?: string; gatewayId?: string } = {},
  ): Promise<SessionView[]> {
    const { db } = this.deps;
    return db
      .select({
        ...getTableColumns(remoteSessions),
        machineName: sql<string>`coalesce(${machines.name}, ${gateways.name} || ' (SSH maintenance)')`,
        technicianName: users.displayName,
        siteId: gateways.siteId,
        gatewayId: gateways.id,
      })
      .from(remoteSessions)
      .innerJoin(gatewaySessions, eq(gatewaySessions.id, remoteSessions.gatewaySessionId))
      .innerJoin(gateways, eq(gateways.id, gatewaySessions.gatewayId))
      .leftJoin(machines, eq(machines.id, remoteSessions.machineId))
      .innerJoin(users, eq(users.id, remoteSessions.technicianId))
      .where(
        and(
          readable(ctx.caller, remoteSessions.customerId, (siteIds) =>
            inArray(gateways.siteId, siteIds),
          ),
          filter.gatewayId ? eq(gateways.id, filter.gatewayId) : undefined,
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
    const manages = inScope(
      scopeOf(ctx.caller.principal, "sessions.manage"),
      session.customerId,
      session.siteId,
    );
    if (!own && !manages)
      throw new ForbiddenError("Only the technician or an admin can end this session.");
    // The plant's own operator ends it as the operator at the machine would; anyone else as admin.
    const plant = ctx.caller.principal.grants.every(
      (g) => g.role === "operator" || g.role === "technician",
    );
    await this.deps.ends.endRemoteSession(
      session.id,
      own ? "technician" : plant ? "operator" : "admin",
      ctx.caller.actor,
    );
    return session;
  }
}
