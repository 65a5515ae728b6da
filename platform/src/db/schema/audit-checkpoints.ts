// Signed checkpoints of the audit chain: written before retention prunes entries, so the chain
// that remains verifies from the checkpoint; and the key that signs them (sealed with the KEK).
import { bigint, bigserial, jsonb, pgTable, text } from "drizzle-orm/pg-core";
import { at, createdAt } from "./columns.ts";

export const auditCheckpoints = pgTable("audit_checkpoints", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  at: at("at").notNull(),
  /** The last entry pruned with this checkpoint: entries up to it may be deleted, none after. */
  cutSeq: bigint("cut_seq", { mode: "number" }).notNull(),
  /** Its hash: the prevHash of the first entry that remains. */
  cutHash: text("cut_hash").notNull(),
  /** Entries before the cut that this checkpoint (and earlier ones) removed, in total. */
  prunedTotal: bigint("pruned_total", { mode: "number" }).notNull(),
  /** Entries older than this were pruned (the retention boundary applied). */
  olderThan: at("older_than").notNull(),
  /** Compact JWS (ES256) over the fields above, by the key in audit_signing_keys. */
  signature: text("signature").notNull(),
});

export const auditSigningKeys = pgTable("audit_signing_keys", {
  /** JWK thumbprint (RFC 7638) of the public key. */
  kid: text("kid").primaryKey(),
  publicJwk: jsonb("public_jwk").notNull(),
  /** The private JWK, sealed with the KEK. */
  sealed: text("sealed").notNull(),
  createdAt: createdAt(),
});
