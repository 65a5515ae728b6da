// Writing, verifying and exporting the audit log.
import { asc, desc, gt, sql } from "drizzle-orm";
import type { JWK } from "jose";
import { type AuditResult, auditEntries, type Db, inTransaction } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import type { AuditAction } from "./actions.ts";
import { entryHash, GENESIS_HASH } from "./chain.ts";
import { checkpointProblem, listCheckpoints } from "./checkpoints.ts";

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
export const CHAIN_LOCK = 0x6d656574;

/**
 * Appends an entry. Call it with the transaction that makes the change it records, so both
 * commit or neither does.
 */
export async function recordAudit(tx: Db, clock: Clock, event: AuditEvent): Promise<void> {
  await appendEntries(tx, clock, [event]);
}

/** Appends `events` in order under the chain lock: one lock and one read of the head for all. */
async function appendEntries(tx: Db, clock: Clock, events: AuditEvent[]): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${CHAIN_LOCK})`);
  const [last] = await tx
    .select({ hash: auditEntries.hash })
    .from(auditEntries)
    .orderBy(desc(auditEntries.seq))
    .limit(1);
  let prevHash = last?.hash ?? GENESIS_HASH;
  for (const event of events) {
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
      prevHash,
    };
    const hash = entryHash(fields);
    await tx.insert(auditEntries).values({ ...fields, hash });
    prevHash = hash;
  }
}

/** Most entries one group commit of recordAuditAlone writes. */
const GROUP_MAX = 100;

interface Waiting {
  clock: Clock;
  event: AuditEvent;
  done: (error?: unknown) => void;
}

/** Per database: the events waiting for this process's audit writer, and whether it runs. */
const writers = new WeakMap<Db, { waiting: Waiting[]; running: boolean }>();

/**
 * Records an event that changes nothing else (e.g. a refused sign-in) in its own transaction;
 * resolves once it is committed. The chain takes one writer at a time anyway (CHAIN_LOCK), so
 * this process queues such events in memory and writes those waiting together in one transaction
 * (at most GROUP_MAX): under a burst (thousands of gateways reporting at once) they wait without
 * holding database connections the portal needs, and cost one lock and one commit per group. A
 * group that fails is written again one event at a time, so one event's error fails only its own
 * caller.
 */
export function recordAuditAlone(db: Db, clock: Clock, event: AuditEvent): Promise<void> {
  let writer = writers.get(db);
  if (!writer) {
    writer = { waiting: [], running: false };
    writers.set(db, writer);
  }
  const queued = writer;
  return new Promise<void>((resolve, reject) => {
    queued.waiting.push({
      clock,
      event,
      done: (error) => (error === undefined ? resolve() : reject(error)),
    });
    if (!queued.running) void writeWaiting(db, queued);
  });
}

class ClocksDiffer extends Error {
  constructor() {
    super("events with different clocks are written one by one");
  }
}

/**
 * Whether `error` (or its cause, as Drizzle wraps it) is a statement the database refused with a
 * SQLSTATE (PostgreSQL Appendix A) outside class 08 (connection exception) and 57 (operator
 * intervention): the transaction rolled back for certain.
 */
function refusedStatement(error: unknown): boolean {
  for (
    let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 4;
    depth++
  ) {
    const code = e.code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code))
      return !code.startsWith("08") && !code.startsWith("57");
    e = e.cause as typeof e;
  }
  return false;
}

async function writeWaiting(db: Db, writer: { waiting: Waiting[]; running: boolean }) {
  writer.running = true;
  try {
    while (writer.waiting.length > 0) {
      const group = writer.waiting.splice(0, GROUP_MAX);
      const clock = group[0]?.clock;
      try {
        if (!clock || group.some((w) => w.clock !== clock)) throw new ClocksDiffer();
        await inTransaction(db, (tx) =>
          appendEntries(
            tx,
            clock,
            group.map((w) => w.event),
          ),
        );
        for (const w of group) w.done();
      } catch (error) {
        // Written again one by one only when the group surely rolled back (a statement the
        // database refused): after a lost connection the commit may have landed, and writing
        // again would put the entries in the chain twice.
        if (group.length === 1 || !(error instanceof ClocksDiffer || refusedStatement(error)))
          for (const w of group) w.done(error ?? new Error("audit entry not written"));
        else
          for (const w of group)
            try {
              await inTransaction(db, (tx) => appendEntries(tx, w.clock, [w.event]));
              w.done();
            } catch (alone) {
              w.done(alone ?? new Error("audit entry not written"));
            }
      }
    }
  } finally {
    writer.running = false;
  }
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
  | {
      ok: true;
      entries: number;
      headSeq: number;
      headHash: string;
      /**
       * Sequence numbers between the first entry and the head that no entry carries: drawn by
       * transactions that rolled back (a refused change). Not deletions — the chain links by
       * hash, and a removed entry breaks it.
       */
      unusedSeqs: number;
      /** The signed checkpoint the remaining chain starts from, after retention pruned. */
      checkpoint: { cutSeq: number; prunedTotal: number; at: Date } | null;
    }
  | { ok: false; entries: number; brokenAt: number; reason: string };

/**
 * Recomputes every hash and link. A changed, inserted or removed entry breaks the chain at
 * that point. After retention pruned the oldest entries, the chain starts from the signed
 * checkpoint at the cut (every checkpoint's signature is checked, against `pinnedKey` when
 * given). Removing entries at the very end leaves a shorter valid chain: compare the reported
 * head with an exported one (checkExportedHeads) to detect that.
 */
export async function verifyAuditChain(db: Db, pinnedKey?: JWK): Promise<VerifyResult> {
  const checkpoints = await listCheckpoints(db);
  for (const checkpoint of checkpoints) {
    const problem = await checkpointProblem(db, checkpoint, pinnedKey);
    if (problem) return { ok: false, entries: 0, brokenAt: checkpoint.cutSeq, reason: problem };
  }
  const cuts = new Map(checkpoints.map((c) => [c.cutSeq, c.cutHash]));
  let prevHash: string | null = null;
  let start: (typeof checkpoints)[number] | null = null;
  let entries = 0;
  let headSeq = 0;
  let firstSeq = 0;
  for await (const entry of allEntries(db)) {
    if (prevHash === null) {
      firstSeq = entry.seq;
      // The first entry links to the genesis, or to the cut of a signed checkpoint.
      start = checkpoints.find((c) => c.cutHash === entry.prevHash) ?? null;
      if (entry.prevHash !== GENESIS_HASH && !start) {
        return {
          ok: false,
          entries,
          brokenAt: entry.seq,
          reason: "entries before it were removed without a signed checkpoint",
        };
      }
      prevHash = entry.prevHash;
    }
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
    const cut = cuts.get(entry.seq);
    if (cut !== undefined && cut !== hash) {
      return {
        ok: false,
        entries,
        brokenAt: entry.seq,
        reason: "differs from the signed checkpoint",
      };
    }
    prevHash = hash;
    headSeq = entry.seq;
    entries++;
  }
  if (prevHash === null && checkpoints.length > 0) {
    const last = checkpoints.at(-1);
    start = last ?? null;
    prevHash = last?.cutHash ?? GENESIS_HASH;
    headSeq = last?.cutSeq ?? 0;
  }
  return {
    ok: true,
    entries,
    headSeq,
    headHash: prevHash ?? GENESIS_HASH,
    unusedSeqs: entries > 0 ? headSeq - firstSeq + 1 - entries : 0,
    checkpoint: start
      ? { cutSeq: start.cutSeq, prunedTotal: start.prunedTotal, at: start.at }
      : null,
  };
}

/** What `audit verify` prints for a chain that verified, line by line. */
export function intactReport(result: Extract<VerifyResult, { ok: true }>): string[] {
  const lines = [
    `Audit chain intact: ${result.entries} entries, head ${result.headSeq} ${result.headHash}`,
  ];
  if (result.checkpoint)
    lines.push(
      `  from the signed checkpoint at entry ${result.checkpoint.cutSeq} (${result.checkpoint.at.toISOString()}; ${result.checkpoint.prunedTotal} older entries pruned by retention)`,
    );
  if (result.unusedSeqs > 0)
    lines.push(
      `  ${result.unusedSeqs} sequence number${result.unusedSeqs === 1 ? " was" : "s were"} drawn by transactions that rolled back (refused changes) and carry no entry: not deletions — entries are chained by hash, and a removed one would have broken the chain above`,
    );
  return lines;
}
