// When an instance dies, its tunnels die with its kernel: a survivor (holding the "lost-instances"
// lease) ends its data channels and remote sessions as instance_lost, audited, within seconds of
// its liveness row going stale. Its gateways reconnect to another instance by themselves; the
// operator-only re-arm rules are unchanged (instance_lost is a fault, not a technician's end).

import { and, count, eq, ne } from "drizzle-orm";
import { recordAuditAlone, SYSTEM_ACTOR } from "../audit/index.ts";
import { type Db, gatewaySessions, remoteSessions } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import type { InstanceRegistry } from "./registry.ts";

/** What ending a lost instance's sessions needs (sessions/ends.ts SessionEnds). */
export interface LostSessionEnds {
  endAllOf(instanceId: string, reason: "instance_lost"): Promise<number>;
}

/**
 * Ends the sessions of every lost instance and marks it swept, auditing `instance.lost` with how
 * many data channels and remote sessions were open and when it was last seen. Returns the ids of the instances swept.
 */
export async function sweepLostInstances(deps: {
  db: Db;
  clock: Clock;
  registry: InstanceRegistry;
  ends: LostSessionEnds;
  log?: (line: string) => void;
}): Promise<string[]> {
  const swept: string[] = [];
  for (const lost of await deps.registry.lost()) {
    // Claimed first: an instance that refreshed since lost() was read keeps its sessions.
    if (!(await deps.registry.claimLost(lost.id))) continue;
    const open = await openSessionsOf(deps.db, lost.id);
    await deps.ends.endAllOf(lost.id, "instance_lost");
    await recordAuditAlone(deps.db, deps.clock, {
      actor: SYSTEM_ACTOR,
      action: "instance.lost",
      target: { type: "platform_instance", id: lost.id },
      detail: {
        instance: lost.id,
        host: lost.host,
        lastSeenAt: lost.lastSeenAt.toISOString(),
        dataChannels: open.dataChannels,
        remoteSessions: open.remoteSessions,
        sweptBy: deps.registry.id,
      },
    });
    (deps.log ?? console.error)(
      `platform instance ${lost.id} (${lost.host}) lost (last seen ${lost.lastSeenAt.toISOString()}): ${open.dataChannels} data channel(s) and ${open.remoteSessions} remote session(s) ended as instance_lost`,
    );
    swept.push(lost.id);
  }
  return swept;
}

/** How many data channels and remote sessions of `instanceId` are open. */
async function openSessionsOf(
  db: Db,
  instanceId: string,
): Promise<{ dataChannels: number; remoteSessions: number }> {
  const [channels] = await db
    .select({ n: count() })
    .from(gatewaySessions)
    .where(and(eq(gatewaySessions.instanceId, instanceId), ne(gatewaySessions.state, "closed")));
  const [remotes] = await db
    .select({ n: count() })
    .from(remoteSessions)
    .where(and(eq(remoteSessions.instanceId, instanceId), ne(remoteSessions.state, "ended")));
  return { dataChannels: channels?.n ?? 0, remoteSessions: remotes?.n ?? 0 };
}
