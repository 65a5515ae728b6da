// The retention job: what is older than the retention period goes — audit entries behind a signed
// checkpoint of the chain at the cut (so `audit verify` proves the rest from there), and ended
// sessions with their flow evidence — and the pruning itself is audited.
import { and, count, desc, eq, isNotNull, lt, lte, sql } from "drizzle-orm";
import {
  CHAIN_LOCK,
  checkpointClaims,
  listCheckpoints,
  recordAudit,
  SYSTEM_ACTOR,
} from "../audit/index.ts";
import {
  auditCheckpoints,
  auditEntries,
  type Db,
  gatewaySessions,
  inTransaction,
  remoteSessions,
} from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import type { AuditSigner } from "./signing.ts";

export interface PruneResult {
  olderThan: Date;
  auditEntries: number;
  /** The checkpoint written, when entries were pruned. */
  checkpointId: number | null;
  remoteSessions: number;
  gatewaySessions: number;
}

const DAY_MS = 86_400_000;

/** Rows a statement removed, from either driver's result. */
function affected(result: unknown): number {
  const r = result as { count?: number; affectedRows?: number };
  return Number(r.count ?? r.affectedRows ?? 0);
}

/**
 * Prunes everything older than `retentionDays` before now, in one transaction with its audit
 * entry; one instance at a time (the audit chain's lock). Returns what went.
 */
export async function prune(
  deps: { db: Db; clock: Clock; signer: AuditSigner },
  retentionDays: number,
): Promise<PruneResult> {
  const now = deps.clock.now();
  const olderThan = new Date(now.getTime() - retentionDays * DAY_MS);
  return inTransaction(deps.db, async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${CHAIN_LOCK})`);
    const [last] = await tx
      .select({ seq: auditEntries.seq, hash: auditEntries.hash })
      .from(auditEntries)
      .where(lt(auditEntries.at, olderThan))
      .orderBy(desc(auditEntries.seq))
      .limit(1);
    let pruned = 0;
    let checkpointId: number | null = null;
    if (last) {
      const [counted] = await tx
        .select({ n: count() })
        .from(auditEntries)
        .where(lte(auditEntries.seq, last.seq));
      pruned = counted?.n ?? 0;
      const previous = (await listCheckpoints(tx)).at(-1);
      const fields = {
        at: now,
        cutSeq: last.seq,
        cutHash: last.hash,
        prunedTotal: (previous?.prunedTotal ?? 0) + pruned,
        olderThan,
      };
      const signature = await deps.signer.sign(checkpointClaims(fields));
      const [row] = await tx
        .insert(auditCheckpoints)
        .values({ ...fields, signature })
        .returning({ id: auditCheckpoints.id });
      checkpointId = row?.id ?? null;
      await tx.delete(auditEntries).where(lte(auditEntries.seq, last.seq));
    }
    const sessions = affected(
      await tx
        .delete(remoteSessions)
        .where(and(eq(remoteSessions.state, "ended"), lt(remoteSessions.endedAt, olderThan))),
    );
    // A data channel goes once it is closed and none of its remote sessions is left.
    const channels = affected(
      await tx
        .delete(gatewaySessions)
        .where(
          and(
            eq(gatewaySessions.state, "closed"),
            isNotNull(gatewaySessions.closedAt),
            lt(gatewaySessions.closedAt, olderThan),
            sql`not exists (select 1 from remote_sessions r where r.gateway_session_id = ${gatewaySessions.id})`,
          ),
        ),
    );
    const result: PruneResult = {
      olderThan,
      auditEntries: pruned,
      checkpointId,
      remoteSessions: sessions,
      gatewaySessions: channels,
    };
    if (pruned || sessions || channels) {
      await recordAudit(tx, deps.clock, {
        actor: SYSTEM_ACTOR,
        action: "retention.prune",
        detail: {
          retentionDays,
          olderThan: olderThan.toISOString(),
          auditEntries: pruned,
          checkpoint: checkpointId,
          cutSeq: last?.seq ?? null,
          remoteSessions: sessions,
          gatewaySessions: channels,
        },
      });
    }
    return result;
  });
}
