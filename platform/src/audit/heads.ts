// Exported heads of the audit chain, checked against the log: the copy kept elsewhere (a file,
// the SIEM) proves that no entry was cut off the end after it was exported.
import { and, eq } from "drizzle-orm";
import type { JWK } from "jose";
import { auditEntries, type Db } from "../db/index.ts";
import { listCheckpoints, verifySigned } from "./checkpoints.ts";

/** One exported head: a line of MEETPOINT_AUDIT_HEAD_FILE. */
export interface ExportedHead {
  seq: number;
  hash: string;
  /** When it was exported (ISO 8601). */
  at: string;
  /** Compact JWS (ES256) over {typ, seq, hash, at} by the audit signing key. */
  jws: string;
}

export interface HeadStatement {
  typ: "meetpoint-audit-head";
  seq: number;
  hash: string;
  at: string;
}

/** Parses the lines of a head file; throws naming the line that is not a head. */
export function parseHeadFile(text: string): ExportedHead[] {
  return text
    .split("\n")
    .map((line, index) => ({ line: line.trim(), number: index + 1 }))
    .filter(({ line }) => line !== "")
    .map(({ line, number }) => {
      let value: Partial<ExportedHead>;
      try {
        value = JSON.parse(line);
      } catch {
        throw new Error(`line ${number}: not JSON`);
      }
      if (
        typeof value.seq !== "number" ||
        typeof value.hash !== "string" ||
        typeof value.at !== "string" ||
        typeof value.jws !== "string"
      )
        throw new Error(`line ${number}: not an exported head (seq, hash, at, jws)`);
      return value as ExportedHead;
    });
}

/**
 * What the log contradicts among exported heads, one line each (empty: all confirmed): an
 * exported head past the log's end (entries cut off the end), a head whose entry is gone or
 * differs, or a head whose signature does not hold. Heads at or before a checkpoint's cut were
 * pruned lawfully and are only checked against that checkpoint.
 */
export async function checkExportedHeads(
  db: Db,
  heads: ExportedHead[],
  pinnedKey?: JWK,
): Promise<string[]> {
  const problems: string[] = [];
  const checkpoints = await listCheckpoints(db);
  const lastCut = checkpoints.at(-1)?.cutSeq ?? 0;
  for (const head of heads) {
    const signed = await verifySigned(db, head.jws, pinnedKey);
    const statement: HeadStatement = {
      typ: "meetpoint-audit-head",
      seq: head.seq,
      hash: head.hash,
      at: head.at,
    };
    if (!signed.ok || JSON.stringify(signed.payload) !== JSON.stringify(statement)) {
      problems.push(
        `head ${head.seq} (${head.at}): ${signed.ok ? "fields differ from the signature" : signed.reason}`,
      );
      continue;
    }
    if (head.seq <= lastCut) {
      const cut = checkpoints.find((c) => c.cutSeq === head.seq);
      if (cut && cut.cutHash !== head.hash)
        problems.push(`head ${head.seq}: differs from the checkpoint at that cut`);
      continue;
    }
    const [entry] = await db
      .select({ hash: auditEntries.hash })
      .from(auditEntries)
      .where(and(eq(auditEntries.seq, head.seq)));
    if (!entry)
      problems.push(
        `head ${head.seq} exported at ${head.at} is missing from the log: entries were removed (cut off the end?)`,
      );
    else if (entry.hash !== head.hash)
      problems.push(
        `head ${head.seq} exported at ${head.at} differs from the log's entry ${head.seq}`,
      );
  }
  return problems;
}
