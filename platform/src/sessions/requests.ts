// Requests for access: the operator's Connect (a data-channel envelope for the gateway) and a
// technician's Connect (a one-time .ovpn for a machine's enabled services).
import { renderClientProfile } from "@meetpoint/common";
import { and, eq } from "drizzle-orm";
import type { Context } from "../access/index.ts";
import { inScope, scopeOf } from "../access/index.ts";
import { type Actor, recordAudit, SYSTEM_ACTOR } from "../audit/index.ts";
import { gatewaySessions, gateways, inTransaction, remoteSessions, services } from "../db/index.ts";
import { getMachine } from "../masterdata/index.ts";
import { SERVER_NAME } from "../pki/index.ts";
import { ConflictError, ForbiddenError, parseInput } from "../shared/index.ts";
import type { ServerInstance } from "../vpn/server-config.ts";
import { type GatewaySession, type RemoteSession, requestInput } from "./model.ts";
import type { Sessions } from "./service.ts";
import { allocateTunnelAddress } from "./tunnel.ts";

/**
 * The operator pressed Connect: a new gateway session (an open one is replaced) with a one-time
 * certificate, delivered as a data-channel envelope signed for this gateway only.
 */
export async function requestDataChannel(
  s: Sessions,
  gatewayId: string,
): Promise<{ envelope: string; session: GatewaySession }> {
  s.requireDataPlane();
  const [gateway] = await s.db.select().from(gateways).where(eq(gateways.id, gatewayId));
  if (!gateway) throw new ConflictError("Unknown gateway.");
  const previous = await s.openGatewaySession(gateway.id);
  if (previous) await s.closeGatewaySession(previous.id, "replaced", SYSTEM_ACTOR);
  const instance = s.instance(await s.pickInstance());
  const now = s.deps.clock.now();
  const actor: Actor = { id: null, name: `gateway ${gateway.name}`, ip: null };
  const session = await inTransaction(s.db, async (tx) => {
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
    await recordAudit(tx, s.deps.clock, {
      actor,
      action: "gateway_session.request",
      target: { type: "gateway", id: gateway.id },
      customerId: gateway.customerId,
      detail: { gatewaySessionId: row.id, vpnInstance: instance.index, tunnelAddress },
    });
    return row;
  });
  const { credentials, profile } = await oneTimeProfile(s, "gateway", session.id, instance, []);
  const { token } = await s.deps.pki.signEnvelope({
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
export async function requestRemoteSession(
  s: Sessions,
  ctx: Context,
  machineId: string,
  input: unknown,
): Promise<{ session: RemoteSession; profile: string }> {
  const machine = await getMachine(ctx, machineId);
  if (!inScope(scopeOf(ctx.caller.principal, "sessions.connect"), machine.customerId)) {
    throw new ForbiddenError("Only technicians of this customer can connect to its machines.");
  }
  const { reason } = parseInput(requestInput, input);
  s.requireDataPlane();
  const gatewaySession = await s.openGatewaySession(machine.gatewayId);
  if (gatewaySession?.state !== "online") {
    throw new ConflictError(
      "The gateway is offline: the operator at the machine has to press Connect first.",
    );
  }
  const enabled = await s.db
    .select()
    .from(services)
    .where(and(eq(services.machineId, machine.id), eq(services.enabled, true)));
  if (enabled.length === 0)
    throw new ConflictError("This machine has no enabled service: there is nothing to connect to.");
  const instance = s.instance(gatewaySession.vpnInstance);
  const now = s.deps.clock.now();
  const policy = s.deps.pki.policy;
  const session = await inTransaction(s.db, async (tx) => {
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
        endsAt: new Date(now.getTime() + s.deps.vpn.remoteSessionSeconds * 1000),
      })
      .returning();
    if (!row) throw new Error("remote session not stored");
    await recordAudit(tx, s.deps.clock, {
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
  const { profile } = await oneTimeProfile(s, "technician", session.id, instance, [
    machine.proxyAddress,
  ]);
  // The gateway opens its side for these services now and shows the operator who and why.
  await s.refreshGateway(gatewaySession.id, "remote session requested");
  return { session, profile };
}

/** A fresh one-time certificate for the session, in a client profile for `instance`. */
async function oneTimeProfile(
  s: Sessions,
  kind: "gateway" | "technician",
  sessionId: string,
  instance: ServerInstance,
  routes: string[],
) {
  const credentials = await s.deps.pki.issueClientCertificate(kind, sessionId);
  const profile = renderClientProfile({
    remotes: [{ host: s.deps.vpn.host, port: instance.port, protocol: instance.protocol }],
    serverName: SERVER_NAME,
    caPem: await s.deps.pki.trustBundlePem(),
    certificatePem: credentials.certificatePem,
    privateKeyPem: credentials.privateKeyPem,
    tlsCryptKey: s.deps.pki.tlsCryptKey,
    routes,
  });
  return { credentials, profile };
}
