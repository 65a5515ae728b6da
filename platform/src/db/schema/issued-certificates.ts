// Every certificate the platform issued, by serial: what it is for, and whether it was used or revoked.
import { index, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { certificateAuthorities } from "./certificate-authorities.ts";
import { at, createdAt } from "./columns.ts";

export const CERTIFICATE_KINDS = ["server", "gateway", "technician"] as const;
export type CertificateKind = (typeof CERTIFICATE_KINDS)[number];

export const issuedCertificates = pgTable(
  "issued_certificates",
  {
    /** Serial number, lower-case hex without leading zeros or colons. */
    serial: text("serial").primaryKey(),
    caId: uuid("ca_id")
      .notNull()
      .references(() => certificateAuthorities.id, { onDelete: "restrict" }),
    kind: text("kind", { enum: CERTIFICATE_KINDS }).notNull(),
    subject: text("subject").notNull(),
    /** The remote session (technician) or gateway session (gateway) it belongs to. */
    ownerId: uuid("owner_id"),
    notBefore: at("not_before").notNull(),
    notAfter: at("not_after").notNull(),
    /**
     * Until when the certificate may open its first connection (the one-time config's window);
     * null: until notAfter. Afterwards only the connection that spent it renegotiates with it.
     */
    firstUseBy: at("first_use_by"),
    /** Set by the first connection: a one-time certificate is worthless afterwards. */
    spentAt: at("spent_at"),
    /** The connection that spent it; only that connection may renegotiate with it. */
    spentBy: text("spent_by"),
    revokedAt: at("revoked_at"),
    revocationReason: text("revocation_reason"),
    createdAt: createdAt(),
  },
  (t) => [
    index("issued_certificates_ca_revoked").on(t.caId, t.revokedAt),
    index("issued_certificates_ca_not_after").on(t.caId, t.notAfter),
    index("issued_certificates_owner").on(t.ownerId),
  ],
);
