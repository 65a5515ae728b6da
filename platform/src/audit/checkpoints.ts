// Signed checkpoints of the audit chain (written by retention before it prunes) and how a verifier
// checks them: a compact JWS (ES256, RFC 7515) over the cut, by a key whose public half is stored
// beside it and can be pinned.
import { asc, eq } from "drizzle-orm";
import { compactVerify, importJWK, type JWK } from "jose";
import { auditCheckpoints, auditSigningKeys, type Db } from "../db/index.ts";

export type Checkpoint = typeof auditCheckpoints.$inferSelect;

/** What a checkpoint's signature covers. */
export interface CheckpointClaims {
  typ: "meetpoint-audit-checkpoint";
  at: string;
  cutSeq: number;
  cutHash: string;
  prunedTotal: number;
  olderThan: string;
}

export function checkpointClaims(c: Omit<Checkpoint, "id" | "signature">): CheckpointClaims {
  return {
    typ: "meetpoint-audit-checkpoint",
    at: c.at.toISOString(),
    cutSeq: c.cutSeq,
    cutHash: c.cutHash,
    prunedTotal: c.prunedTotal,
    olderThan: c.olderThan.toISOString(),
  };
}

export function listCheckpoints(db: Db): Promise<Checkpoint[]> {
  return db.select().from(auditCheckpoints).orderBy(asc(auditCheckpoints.cutSeq));
}

/** Verifies a compact JWS with the stored key it names (`kid`); returns its payload, or why not. */
export async function verifySigned(
  db: Db,
  jws: string,
  pinned?: JWK,
): Promise<{ ok: true; payload: unknown; kid: string } | { ok: false; reason: string }> {
  const [header] = jws.split(".");
  let kid: string;
  try {
    kid = String(JSON.parse(Buffer.from(header ?? "", "base64url").toString()).kid ?? "");
  } catch {
    return { ok: false, reason: "not a compact JWS" };
  }
  let jwk = pinned;
  if (!jwk) {
    const [key] = await db.select().from(auditSigningKeys).where(eq(auditSigningKeys.kid, kid));
    if (!key) return { ok: false, reason: `signed by an unknown key (${kid})` };
    jwk = key.publicJwk as JWK;
  }
  try {
    const { payload } = await compactVerify(jws, await importJWK(jwk, "ES256"), {
      algorithms: ["ES256"],
    });
    return { ok: true, payload: JSON.parse(new TextDecoder().decode(payload)), kid };
  } catch (error) {
    return { ok: false, reason: `signature does not verify (${(error as Error).message})` };
  }
}

/** Whether a checkpoint's signature holds and covers exactly its stored fields. */
export async function checkpointProblem(
  db: Db,
  checkpoint: Checkpoint,
  pinned?: JWK,
): Promise<string | null> {
  const verified = await verifySigned(db, checkpoint.signature, pinned);
  if (!verified.ok) return `checkpoint ${checkpoint.id}: ${verified.reason}`;
  const expected = JSON.stringify(checkpointClaims(checkpoint));
  if (JSON.stringify(verified.payload) !== expected)
    return `checkpoint ${checkpoint.id}: its fields do not match what was signed`;
  return null;
}
