// The platform's answer to each OpenVPN connection (CLIENT:CONNECT over the management socket):
// a one-time certificate, spent now, whose session is ready — or a refusal that is audited.
import { formatCidr, formatIpv4 } from "@meetpoint/common";
import { eq } from "drizzle-orm";
import { recordAudit, SYSTEM_ACTOR } from "../audit/index.ts";
import { gatewaySessions, gateways, inTransaction, remoteSessions } from "../db/index.ts";
import { blockOf } from "../masterdata/proxy-pool.ts";
import { netmask } from "../vpn/server-config.ts";
import { nextState } from "./lifecycle.ts";
import { type ConnectionDecision, grantsOf, timesOf } from "./model.ts";
import type { Sessions } from "./service.ts";

/** CLIENT:CONNECT (and REAUTH): the certificate must be one-time-valid and its session ready. */
export async function decideConnection(
  s: Sessions,
  connection: string,
  serial: string,
): Promise<ConnectionDecision> {
  if (s.cutForDatabase) return refuse(s, connection, "access is cut: the database was lost");
  const files = s.deps.pki.trustFiles;
  const trustProblem = files
    ? await s.deps.pki.trustFilesProblem(files)
    : "the platform keeps no revocation list";
  if (trustProblem) return refuse(s, connection, `revocation list unusable: ${trustProblem}`);
  const result = await s.deps.pki.authorize(serial, connection);
  if (!result.ok) return refuse(s, connection, `certificate ${result.reason}`);
  if (!result.ownerId) return refuse(s, connection, "certificate has no session");
  return result.kind === "gateway"
    ? decideGateway(s, connection, result.ownerId)
    : decideTechnician(s, connection, result.ownerId, result.renegotiation);
}

async function refuse(
  s: Sessions,
  connection: string,
  reason: string,
): Promise<ConnectionDecision> {
  await inTransaction(s.db, (tx) =>
    recordAudit(tx, s.deps.clock, {
      actor: SYSTEM_ACTOR,
      action: "vpn.connection_denied",
      result: "denied",
      detail: { connection, reason },
    }),
  );
  return { allow: false, reason };
}

async function decideGateway(
  s: Sessions,
  connection: string,
  sessionId: string,
): Promise<ConnectionDecision> {
  const [session] = await s.db
    .select()
    .from(gatewaySessions)
    .where(eq(gatewaySessions.id, sessionId));
  if (!session || session.state === "closed")
    return refuse(s, connection, "gateway session is closed");
  if (session.state === "online" && session.connection !== connection)
    return refuse(s, connection, "gateway session is already connected");
  const [gateway] = await s.db.select().from(gateways).where(eq(gateways.id, session.gatewayId));
  if (!gateway) return refuse(s, connection, "gateway was deleted");
  const instance = s.instance(session.vpnInstance);
  if (`${instance.index}` !== connection.split(":")[0])
    return refuse(s, connection, "connected to the wrong OpenVPN server");
  const block = blockOf(s.deps.proxyPool, gateway.proxyBlock);
  await s.deps.dataPlane.routeProxyBlock(formatCidr(block), instance.index);
  if (session.state === "connecting") {
    await inTransaction(s.db, async (tx) => {
      await tx
        .update(gatewaySessions)
        .set({ state: "online", onlineAt: s.deps.clock.now(), connection })
        .where(eq(gatewaySessions.id, session.id));
      await recordAudit(tx, s.deps.clock, {
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

async function decideTechnician(
  s: Sessions,
  connection: string,
  sessionId: string,
  renegotiation: boolean,
): Promise<ConnectionDecision> {
  const [session] = await s.db
    .select()
    .from(remoteSessions)
    .where(eq(remoteSessions.id, sessionId));
  if (!session) return refuse(s, connection, "remote session not found");
  const instance = s.instance(session.vpnInstance);
  const config = [
    `ifconfig-push ${session.tunnelAddress} ${netmask(instance.tunnelNetwork.prefix)}`,
  ];
  if (renegotiation && session.state === "active" && session.connection === connection)
    return { allow: true, config };
  const [gatewaySession] = await s.db
    .select()
    .from(gatewaySessions)
    .where(eq(gatewaySessions.id, session.gatewaySessionId));
  if (gatewaySession?.state !== "online") {
    await s.endRemoteSession(session.id, "gateway_lost", SYSTEM_ACTOR);
    return refuse(s, connection, "the gateway is no longer online");
  }
  const transition = nextState(timesOf(session), {
    type: "connected",
    at: s.deps.clock.now(),
  });
  if (transition.session.state !== "active") {
    if (transition.changed)
      await s.applyEnd(
        session,
        transition.session.endReason ?? "expiry",
        SYSTEM_ACTOR,
        transition.session.endedAt,
      );
    return refuse(
      s,
      connection,
      transition.changed
        ? `session ended (${transition.session.endReason})`
        : (transition.refused ?? "session not ready"),
    );
  }
  await s.deps.dataPlane.changeGrants(grantsOf(session), []);
  await inTransaction(s.db, async (tx) => {
    await tx
      .update(remoteSessions)
      .set({ state: "active", activatedAt: transition.session.activatedAt, connection })
      .where(eq(remoteSessions.id, session.id));
    await recordAudit(tx, s.deps.clock, {
      actor: SYSTEM_ACTOR,
      action: "remote_session.active",
      target: { type: "machine", id: session.machineId },
      customerId: session.customerId,
      detail: { remoteSessionId: session.id, connection, tunnelAddress: session.tunnelAddress },
    });
  });
  await s.refreshGateway(session.gatewaySessionId, "remote session active");
  return { allow: true, config };
}
