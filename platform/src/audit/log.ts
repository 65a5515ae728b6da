// Writing, verifying and exporting the audit log.
import { asc, desc, gt, sql } from "drizzle-orm";
import { type AuditResult, auditEntries, type Db, inTransaction } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import type { AuditAction } from "./actions.ts";
import { entryHash, GENESIS_HASH } from "./chain.ts";

/** Who acted: a user, or the platform itself (id null), and from where. */
export interface Actor {
  id: string | null;
  name: string;
  ip: string | null;
}

export const SYSTEM_ACTOR: Actor = { id: null, name: "system", ip: null };

export interface AuditEvent {
  actor: Actor;
  /** What happened, from the catalogue (actions.ts). */
  action: AuditAction;
  target?: { type: string; id: string } | undefined;
  /** The customer the event concerns; customer admins read entries of their customers. */
  customerId?: string | null | undefined;
  result?: AuditResult;
  detail?: Record<string, unknown>;
}

export type AuditEntry = typeof auditEntries.$inferSelect;

// Serialises writers across connections and platform instances: the chain needs one order.
const CHAIN_LOCK = 0x6d656574;

/**
 * Appends an entry. Call it with the transaction that makes the change it records, so both
 * commit or neither does.
 */
export async function recordAudit(tx: Db, clock: Clock, event: AuditEvent): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${CHAIN_LOCK})`);
  const [last] = await tx
    .select({ hash: auditEntries.hash })
    .from(auditEntries)
    .orderBy(desc(auditEntries.seq))
    .limit(1);
  const fields = {
    at: clock.now(),
    actorId: event.actor.id,
    actorName: event.actor.name,
    action: event.action,
    targetType: event.target?.type ?? null,
    targetId: event.target?.id ?? null,
    customerId: event.customerId ?? null,
    ip: event.actor.ip,
    result: event.result ?? "ok",
    detail: event.detail ?? {},
    prevHash: last?.hash ?? GENESIS_HASH,
  };
  await tx.insert(auditEntries).values({ ...fields, hash: entryHash(fields) });
}

/** Records an event that changes nothing else (e.g. a refused sign-in) in its own transaction. */
export function recordAuditAlone(db: Db, clock: Clock, event: AuditEvent): Promise<void> {
  return inTransaction(db, (tx) => recordAudit(tx, clock, event));
}

/** Yields all entries in chain order, reading in pages so memory stays flat. */
export async function* allEntries(db: Db, pageSize = 1000): AsyncGenerator<AuditEntry> {
  let after = 0;
  for (;;) {
    const page = await db
      .select()
      .from(auditEntries)
      .where(gt(auditEntries.seq, after))
      .orderBy(asc(auditEntries.seq))
      .limit(pageSize);
    yield* page;
    const last = page.at(-1);
    if (!last || page.length < pageSize) return;
    after = last.seq;
  }
}

export type VerifyResult =
  | { ok: true; entries: number; headHash: string }
  | { ok: false; entries: number; brokenAt: number; reason: string };

/**
 * Recomputes every hash and link. A changed, inserted or removed entry breaks the chain at
 * that point. Removing entries at the very end leaves a shorter valid chain: compare the
 * reported head hash with one kept elsewhere to detect that.
 */
export async function verifyAuditChain(db: Db): Promise<VerifyResult> {
  let prevHash = GENESIS_HASH;
  let entries = 0;
  for await (const entry of allEntries(db)) {
    if (entry.prevHash !== prevHash) {
      return {
        ok: false,
        entries,
        brokenAt: entry.seq,
        reason: "link to the previous entry does not match",
      };
    }
    const { hash, seq: _seq, ...fields } = entry;
    if (entryHash(fields) !== hash) {
      return { ok: false, entries, brokenAt: entry.seq, reason: "content does not match its hash" };
    }
    prevHash = hash;
    entries++;
  }
  return { ok: true, entries, headHash: prevHash };
}
