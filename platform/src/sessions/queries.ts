// The session queries every part of the remote-access core shares.
import { and, desc, eq, inArray, ne } from "drizzle-orm";
import { inScope, scopeOf } from "../access/index.ts";
import {
  type Db,
  gatewaySessions,
  machines,
  type RemoteSessionKind,
  remoteSessions,
  roleAssignments,
  users,
} from "../db/index.ts";
import type { Grant } from "../firewall/index.ts";
import { type GatewaySession, grantsOf, type RemoteSession } from "./model.ts";

/** A gateway's data channel that is not closed (the newest, should there be two), or null. */
export async function openGatewaySession(
  db: Db,
  gatewayId: string,
): Promise<GatewaySession | null> {
  const [row] = await db
    .select()
    .from(gatewaySessions)
    .where(and(eq(gatewaySessions.gatewayId, gatewayId), ne(gatewaySessions.state, "closed")))
    .orderBy(desc(gatewaySessions.requestedAt))
    .limit(1);
  return row ?? null;
}

export async function gatewaySessionById(db: Db, id: string): Promise<GatewaySession | null> {
  const [row] = await db.select().from(gatewaySessions).where(eq(gatewaySessions.id, id));
  return row ?? null;
}

export async function remoteSessionById(db: Db, id: string): Promise<RemoteSession | null> {
  const [row] = await db.select().from(remoteSessions).where(eq(remoteSessions.id, id));
  return row ?? null;
}

/** Ids of the remote sessions through a data channel that have not ended. */
export async function openRemoteSessionIds(db: Db, gatewaySessionId: string): Promise<string[]> {
  const rows = await db
    .select({ id: remoteSessions.id })
    .from(remoteSessions)
    .where(
      and(eq(remoteSessions.gatewaySessionId, gatewaySessionId), ne(remoteSessions.state, "ended")),
    );
  return rows.map((r) => r.id);
}

/** Grants of all active sessions: what the firewall must hold (reconciliation). */
export async function activeGrants(db: Db): Promise<Grant[]> {
  const active = await db.select().from(remoteSessions).where(eq(remoteSessions.state, "active"));
  return active.flatMap(grantsOf);
}

/** The permission a remote session of `kind` needs, now as when it was requested. */
export const permissionFor = (kind: RemoteSessionKind) =>
  kind === "maintenance" ? "gateways.maintain" : "sessions.connect";

/**
 * Whether `userId` may still hold a session of `kind` to `customerId`: enabled, and holding the
 * role for it now (roles change; a provider's sign-in can take them away).
 */
export async function mayConnect(
  db: Db,
  userId: string,
  customerId: string,
  kind: RemoteSessionKind = "machine",
): Promise<boolean> {
  return (await allowedOf(db, [{ technicianId: userId, customerId, kind }]))[0] ?? false;
}

/** Open remote sessions whose technician may no longer connect to that customer's machines. */
export async function revokedSessions(db: Db): Promise<string[]> {
  const open = await db
    .select({
      id: remoteSessions.id,
      technicianId: remoteSessions.technicianId,
      customerId: remoteSessions.customerId,
      kind: remoteSessions.kind,
    })
    .from(remoteSessions)
    .where(ne(remoteSessions.state, "ended"));
  if (open.length === 0) return [];
  const allowed = await allowedOf(db, open);
  return open.filter((_, i) => !allowed[i]).map((s) => s.id);
}

async function allowedOf(
  db: Db,
  wanted: { technicianId: string; customerId: string; kind: RemoteSessionKind }[],
): Promise<boolean[]> {
  const ids = [...new Set(wanted.map((w) => w.technicianId))];
  const [people, grants] = await Promise.all([
    db
      .select({ id: users.id, disabledAt: users.disabledAt })
      .from(users)
      .where(inArray(users.id, ids)),
    db
      .select({
        userId: roleAssignments.userId,
        role: roleAssignments.role,
        customerId: roleAssignments.customerId,
        siteId: roleAssignments.siteId,
      })
      .from(roleAssignments)
      .where(inArray(roleAssignments.userId, ids)),
  ]);
  return wanted.map(({ technicianId, customerId, kind }) => {
    const person = people.find((p) => p.id === technicianId);
    if (!person || person.disabledAt) return false;
    const principal = {
      userId: technicianId,
      username: "",
      displayName: "",
      grants: grants.filter((g) => g.userId === technicianId),
    };
    return inScope(scopeOf(principal, permissionFor(kind)), customerId);
  });
}

/** A workstation's one machine (the PC itself), or null when it has none. */
export async function workstationMachine(db: Db, gatewayId: string) {
  const [machine] = await db.select().from(machines).where(eq(machines.gatewayId, gatewayId));
  return machine ?? null;
}

/** What an audit entry of a remote session names: its machine, or for maintenance its gateway. */
export async function auditTargetOf(
  db: Db,
  session: { machineId: string | null; gatewaySessionId: string },
): Promise<{ type: "machine" | "gateway"; id: string }> {
  if (session.machineId) return { type: "machine", id: session.machineId };
  const channel = await gatewaySessionById(db, session.gatewaySessionId);
  return { type: "gateway", id: channel?.gatewayId ?? session.gatewaySessionId };
}
