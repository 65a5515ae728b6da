// The platform's side of every OpenVPN connection (the ConnectionHandler the data plane calls): a
// one-time certificate, spent now, whose session is ready gets its per-client config; everything
// else is refused and audited. Also the ends of connections and their traffic counts.
import { formatCidr } from "@meetpoint/common";
import { and, eq } from "drizzle-orm";
import { recordAudit, SYSTEM_ACTOR } from "../audit/index.ts";
import { type Db, gatewaySessions, gateways, inTransaction, remoteSessions } from "../db/index.ts";
import type { Grant } from "../firewall/index.ts";
import { blockOf, type ProxyPool } from "../masterdata/index.ts";
import type { Pki } from "../pki/index.ts";
import type { Clock } from "../shared/index.ts";
import type { ConnectionDecision, ConnectionHandler, DataPlane } from "./data-plane.ts";
import { decideGateway, decideTechnician } from "./decision.ts";
import type { SessionEnds } from "./ends.ts";
import type { AccessGate } from "./gate.ts";
import { grantsOf } from "./model.ts";
import { instanceOf } from "./profiles.ts";
import {
  activeGrants,
  auditTargetOf,
  gatewaySessionById,
  mayConnect,
  remoteSessionById,
  workstationMachine,
} from "./queries.ts";

export interface ConnectionsDeps {
  db: Db;
  clock: Clock;
  pki: Pick<Pki, "trustFiles" | "trustFilesProblem" | "authorize">;
  dataPlane: DataPlane;
  gate: AccessGate;
  ends: Pick<
    SessionEnds,
    "endRemoteSession" | "closeGatewaySession" | "refreshGateway" | "endAllOnInstance"
  >;
  proxyPool: ProxyPool;
  /**
   * This platform instance (several over one PostgreSQL; null or absent: the only one). Connection
   * ids ("<server>:<client>") restart on every instance, so one names a session only here.
   */
  instanceId?: string | null;
}

export class Connections implements ConnectionHandler {
  constructor(private readonly deps: ConnectionsDeps) {}

  /** CLIENT:CONNECT (and REAUTH): the certificate must be one-time-valid and its session ready. */
  async decide(connection: string, serial: string): Promise<ConnectionDecision> {
    const { pki } = this.deps;
    if (this.deps.gate.cutForDatabase)
      return this.refuse(connection, "access is cut: the database was lost");
    const files = pki.trustFiles;
    const trustProblem = files
      ? await pki.trustFilesProblem(files)
      : "the platform keeps no revocation list";
    if (trustProblem) return this.refuse(connection, `revocation list unusable: ${trustProblem}`);
    const result = await pki.authorize(serial, connection);
    if (!result.ok) return this.refuse(connection, `certificate ${result.reason}`);
    if (!result.ownerId) return this.refuse(connection, "certificate has no session");
    return result.kind === "gateway"
      ? this.gateway(connection, result.ownerId)
      : this.technician(connection, result.ownerId, result.renegotiation);
  }

  private async refuse(connection: string, reason: string): Promise<ConnectionDecision> {
    await inTransaction(this.deps.db, (tx) =>
      recordAudit(tx, this.deps.clock, {
        actor: SYSTEM_ACTOR,
        action: "vpn.connection_denied",
        result: "denied",
        detail: { connection, reason },
      }),
    );
    return { allow: false, reason };
  }

  private async gateway(connection: string, sessionId: string): Promise<ConnectionDecision> {
    const { db, clock, dataPlane } = this.deps;
    const session = await gatewaySessionById(db, sessionId);
    if (!session) return this.refuse(connection, "gateway session is closed");
    const [gateway] = await db.select().from(gateways).where(eq(gateways.id, session.gatewayId));
    const instance = instanceOf(dataPlane.instances, session.vpnInstance);
    const workstation = gateway?.kind === "workstation";
    const verdict = decideGateway({
      session,
      connection,
      instance,
      block: gateway ? blockOf(this.deps.proxyPool, gateway.proxyBlock) : null,
      workstation,
    });
    if (!verdict.allow) return this.refuse(connection, verdict.reason);
    if (workstation) {
      // The PC itself is the machine: its proxy address goes to its tunnel address.
      const machine = await workstationMachine(db, session.gatewayId);
      if (!machine) return this.refuse(connection, "the workstation has no machine");
      await dataPlane.translateWorkstation(machine.proxyAddress, session.tunnelAddress);
    } else await dataPlane.routeProxyBlock(formatCidr(verdict.block), instance.index);
    if (verdict.goesOnline) {
      await inTransaction(db, async (tx) => {
        await tx
          .update(gatewaySessions)
          .set({ state: "online", onlineAt: clock.now(), connection })
          .where(eq(gatewaySessions.id, session.id));
        await recordAudit(tx, clock, {
          actor: SYSTEM_ACTOR,
          action: "gateway_session.online",
          target: { type: "gateway", id: session.gatewayId },
          customerId: session.customerId,
          detail: { gatewaySessionId: session.id, connection },
        });
      });
    }
    return { allow: true, config: verdict.config };
  }

  private async technician(
    connection: string,
    sessionId: string,
    renegotiation: boolean,
  ): Promise<ConnectionDecision> {
    const { db, clock, dataPlane, ends } = this.deps;
    const session = await remoteSessionById(db, sessionId);
    const channel = session ? await gatewaySessionById(db, session.gatewaySessionId) : null;
    if (!session) return this.refuse(connection, "remote session not found");
    if (
      !renegotiation &&
      !(await mayConnect(db, session.technicianId, session.customerId, session.kind))
    ) {
      await ends.endRemoteSession(session.id, "access_revoked", SYSTEM_ACTOR);
      return this.refuse(connection, "the technician may no longer connect to this customer");
    }
    const verdict = decideTechnician({
      session,
      gatewayOnline: channel?.state === "online",
      connection,
      renegotiation,
      instance: instanceOf(dataPlane.instances, session.vpnInstance),
      now: clock.now(),
    });
    if (verdict.kind === "renegotiate") return { allow: true, config: verdict.config };
    if (verdict.kind === "refuse") {
      if ("end" in verdict) await ends.endRemoteSession(session.id, verdict.end, SYSTEM_ACTOR);
      return this.refuse(connection, verdict.reason);
    }
    const grants = grantsOf(session);
    const target = await auditTargetOf(db, session);
    await dataPlane.changeGrants(grants, []);
    const activated = await inTransaction(db, async (tx) => {
      // Only a session still waiting becomes active: one ended meanwhile keeps no grants.
      const rows = await tx
        .update(remoteSessions)
        .set({ state: "active", activatedAt: verdict.activatedAt, connection })
        .where(and(eq(remoteSessions.id, session.id), eq(remoteSessions.state, "requested")))
        .returning({ id: remoteSessions.id });
      if (rows.length === 0) return false;
      await recordAudit(tx, clock, {
        actor: SYSTEM_ACTOR,
        action: "remote_session.active",
        target,
        customerId: session.customerId,
        detail: { remoteSessionId: session.id, connection, tunnelAddress: session.tunnelAddress },
      });
      return true;
    });
    if (!activated) {
      await dataPlane.changeGrants([], grants);
      return this.refuse(connection, "the session has ended");
    }
    await ends.refreshGateway(session.gatewaySessionId, "remote session active");
    return { allow: true, config: verdict.config };
  }

  /** CLIENT:DISCONNECT: a technician who closes the client ends the session; a lost gateway closes its. */
  async closed(connection: string): Promise<void> {
    const { db, ends } = this.deps;
    // Connections the platform cut for lack of its database end for that reason, even when the
    // record is only written once the database is back.
    const cut = this.deps.gate.cutForDatabase;
    const [remote] = await db
      .select({ id: remoteSessions.id })
      .from(remoteSessions)
      .where(and(this.remoteHere(connection), eq(remoteSessions.state, "active")));
    if (remote)
      await ends.endRemoteSession(remote.id, cut ? "database_lost" : "technician", SYSTEM_ACTOR);
    const [channel] = await db
      .select({ id: gatewaySessions.id })
      .from(gatewaySessions)
      .where(and(this.channelHere(connection), eq(gatewaySessions.state, "online")));
    if (channel)
      await ends.closeGatewaySession(
        channel.id,
        cut ? "database_lost" : "gateway_lost",
        SYSTEM_ACTOR,
      );
  }

  /** BYTECOUNT_CLI: traffic totals of a connection. */
  async countBytes(connection: string, bytesIn: number, bytesOut: number): Promise<void> {
    const { db } = this.deps;
    await db
      .update(remoteSessions)
      .set({ bytesIn, bytesOut })
      .where(and(this.remoteHere(connection), eq(remoteSessions.state, "active")));
    await db
      .update(gatewaySessions)
      .set({ bytesIn, bytesOut })
      .where(and(this.channelHere(connection), eq(gatewaySessions.state, "online")));
  }

  /** Remote sessions on `connection` of this instance's OpenVPN servers. */
  private remoteHere(connection: string) {
    const here = this.deps.instanceId ?? null;
    return here === null
      ? eq(remoteSessions.connection, connection)
      : and(eq(remoteSessions.connection, connection), eq(remoteSessions.instanceId, here));
  }

  /** Data channels on `connection` of this instance's OpenVPN servers. */
  private channelHere(connection: string) {
    const here = this.deps.instanceId ?? null;
    return here === null
      ? eq(gatewaySessions.connection, connection)
      : and(eq(gatewaySessions.connection, connection), eq(gatewaySessions.instanceId, here));
  }

  serverLost(instance: number): Promise<void> {
    return this.deps.ends.endAllOnInstance(instance);
  }

  activeGrants(): Promise<Grant[]> {
    return activeGrants(this.deps.db);
  }
}
