// Exports the head of the audit chain — its newest entry's sequence number and hash, signed — to a
// file kept elsewhere (MEETPOINT_AUDIT_HEAD_FILE, one JSON line per export) and into the log itself
// (audit.head_export, which the SIEM receives): entries cut off the end after an export are then
// detected by `audit verify --heads FILE`, or by the SIEM's copy.
import { appendFileSync } from "node:fs";
import { desc } from "drizzle-orm";
import {
  type ExportedHead,
  type HeadStatement,
  recordAuditAlone,
  SYSTEM_ACTOR,
} from "../audit/index.ts";
import { auditEntries, type Db } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import type { AuditSigner } from "./signing.ts";

/** Exports the current head; returns it (null for an empty log). */
export async function exportHead(deps: {
  db: Db;
  clock: Clock;
  signer: AuditSigner;
  file: string | null;
}): Promise<ExportedHead | null> {
  const [head] = await deps.db
    .select({ seq: auditEntries.seq, hash: auditEntries.hash })
    .from(auditEntries)
    .orderBy(desc(auditEntries.seq))
    .limit(1);
  if (!head) return null;
  const statement: HeadStatement = {
    typ: "meetpoint-audit-head",
    seq: head.seq,
    hash: head.hash,
    at: deps.clock.now().toISOString(),
  };
  const exported: ExportedHead = {
    seq: statement.seq,
    hash: statement.hash,
    at: statement.at,
    jws: await deps.signer.sign(statement),
  };
  if (deps.file) appendFileSync(deps.file, `${JSON.stringify(exported)}\n`, { mode: 0o644 });
  await recordAuditAlone(deps.db, deps.clock, {
    actor: SYSTEM_ACTOR,
    action: "audit.head_export",
    detail: { seq: exported.seq, hash: exported.hash, kid: deps.signer.kid, file: deps.file },
  });
  return exported;
}
