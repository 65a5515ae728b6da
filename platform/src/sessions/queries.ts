// The session queries every part of the remote-access core shares.
import { and, desc, eq, ne } from "drizzle-orm";
import { type Db, gatewaySessions, remoteSessions } from "../db/index.ts";
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
