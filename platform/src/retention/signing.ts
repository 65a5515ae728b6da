// The key that signs audit checkpoints and exported heads: ES256 (RFC 7518), made at first use,
// its private half sealed with the KEK (without the KEK no new checkpoint can be signed; the
// public half, kept beside it and printed by `audit verify`, still verifies the old ones).
import { desc } from "drizzle-orm";
import {
  CompactSign,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from "jose";
import { auditSigningKeys, type Db } from "../db/index.ts";

/** What seals and unseals the private key (the PKI's KEK). */
export interface Sealer {
  sealSecret(label: string, text: string): Promise<string>;
  unsealSecret(label: string, sealed: string): Promise<string>;
}

const LABEL = "audit-signing-key";

export interface AuditSigner {
  kid: string;
  publicJwk: JWK;
  /** A compact JWS over `payload` (JSON), with `kid` in its header. */
  sign(payload: unknown): Promise<string>;
}

/**
 * The public half of the newest signing key, as stored (no KEK needed, nothing made); null while
 * the platform has none yet.
 */
export async function auditPublicKey(db: Db): Promise<{ kid: string; publicJwk: JWK } | null> {
  const [row] = await db
    .select({ kid: auditSigningKeys.kid, publicJwk: auditSigningKeys.publicJwk })
    .from(auditSigningKeys)
    .orderBy(desc(auditSigningKeys.createdAt))
    .limit(1);
  return row ? { kid: row.kid, publicJwk: row.publicJwk as JWK } : null;
}

/** The newest signing key, made (and stored sealed) when there is none. */
export async function auditSigner(db: Db, sealer: Sealer): Promise<AuditSigner> {
  let [row] = await db
    .select()
    .from(auditSigningKeys)
    .orderBy(desc(auditSigningKeys.createdAt))
    .limit(1);
  if (!row) {
    const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const sealed = await sealer.sealSecret(LABEL, JSON.stringify(await exportJWK(privateKey)));
    await db
      .insert(auditSigningKeys)
      .values({ kid, publicJwk: { ...publicJwk, kid, alg: "ES256" }, sealed })
      .onConflictDoNothing();
    [row] = await db
      .select()
      .from(auditSigningKeys)
      .orderBy(desc(auditSigningKeys.createdAt))
      .limit(1);
  }
  if (!row) throw new Error("no audit signing key");
  const key = await importJWK(JSON.parse(await sealer.unsealSecret(LABEL, row.sealed)), "ES256");
  const kid = row.kid;
  return {
    kid,
    publicJwk: row.publicJwk as JWK,
    sign: (payload) =>
      new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: "ES256", kid })
        .sign(key),
  };
}
