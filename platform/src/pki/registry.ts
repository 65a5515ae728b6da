// The record of issued certificates: one-time use at connect time, revocation, counts.
import { and, count, eq, gt, inArray, isNotNull, isNull, sql } from "drizzle-orm";
import { type CertificateKind, type Db, inTransaction, issuedCertificates } from "../db/index.ts";
import { normalizeSerial } from "./ca.ts";
import type { IssuedCredentials } from "./certificates.ts";

export type AuthorizeResult =
  | {
      ok: true;
      kind: Exclude<CertificateKind, "server">;
      ownerId: string | null;
      renegotiation: boolean;
    }
  | { ok: false; reason: string };

export function recordCertificate(
  db: Db,
  caId: string,
  kind: CertificateKind,
  ownerId: string | null,
  issued: IssuedCredentials,
  firstUseBy: Date | null = null,
): Promise<unknown> {
  return db.insert(issuedCertificates).values({
    firstUseBy,
    serial: issued.serial,
    caId,
    kind,
    subject: issued.subject,
    ownerId,
    notBefore: issued.notBefore,
    notAfter: issued.notAfter,
  });
}

/**
 * The check at connect time. A known, unrevoked client certificate inside its first-use window is
 * accepted once and marked spent by `connection`; afterwards only that same connection is accepted
 * again (TLS renegotiation, until the certificate's notAfter), every other attempt is a replay.
 */
export function authorizeCertificate(
  db: Db,
  serial: string,
  connection: string,
  now: Date,
): Promise<AuthorizeResult> {
  return inTransaction(db, async (tx) => {
    const [row] = await tx
      .select()
      .from(issuedCertificates)
      .where(eq(issuedCertificates.serial, normalizeSerial(serial)))
      .for("update");
    if (!row) return { ok: false, reason: "unknown certificate" };
    if (row.kind === "server") return { ok: false, reason: "not a client certificate" };
    if (row.revokedAt)
      return { ok: false, reason: `revoked (${row.revocationReason ?? "no reason given"})` };
    if (row.spentAt) {
      if (row.spentBy === connection)
        return { ok: true, kind: row.kind, ownerId: row.ownerId, renegotiation: true };
      return { ok: false, reason: "already used: a one-time certificate works for one connection" };
    }
    if (now < row.notBefore) return { ok: false, reason: "not yet valid" };
    if (now >= row.notAfter) return { ok: false, reason: "expired" };
    if (row.firstUseBy && now >= row.firstUseBy)
      return { ok: false, reason: "expired unused: its one-time config's window has passed" };
    await tx
      .update(issuedCertificates)
      .set({ spentAt: now, spentBy: connection })
      .where(eq(issuedCertificates.serial, row.serial));
    return { ok: true, kind: row.kind, ownerId: row.ownerId, renegotiation: false };
  });
}

/** Revokes certificates (by serial, or all of an owner); returns how many were newly revoked. */
export async function revokeCertificates(
  db: Db,
  which: { serials: string[] } | { ownerId: string },
  reason: string,
  now: Date,
): Promise<number> {
  const target =
    "serials" in which
      ? inArray(issuedCertificates.serial, which.serials.map(normalizeSerial))
      : eq(issuedCertificates.ownerId, which.ownerId);
  if ("serials" in which && which.serials.length === 0) return 0;
  const rows = await db
    .update(issuedCertificates)
    .set({ revokedAt: now, revocationReason: reason })
    .where(and(target, isNull(issuedCertificates.revokedAt)))
    .returning({ serial: issuedCertificates.serial });
  return rows.length;
}

/** Revoked certificates of a CA that have not expired yet: what its CRL must list. */
export function revokedOf(db: Db, caId: string, now: Date) {
  return db
    .select({
      serial: issuedCertificates.serial,
      revokedAt: sql<Date>`${issuedCertificates.revokedAt}`,
    })
    .from(issuedCertificates)
    .where(
      and(
        eq(issuedCertificates.caId, caId),
        isNotNull(issuedCertificates.revokedAt),
        gt(issuedCertificates.notAfter, now),
      ),
    );
}

/** Whether a CA still has unexpired, unrevoked certificates out there (an index lookup). */
export async function caInUse(db: Db, caId: string, now: Date): Promise<boolean> {
  const rows = await db
    .select({ serial: issuedCertificates.serial })
    .from(issuedCertificates)
    .where(
      and(
        eq(issuedCertificates.caId, caId),
        gt(issuedCertificates.notAfter, now),
        isNull(issuedCertificates.revokedAt),
      ),
    )
    .limit(1);
  return rows.length > 0;
}

export interface CertificateCounts {
  issued: number;
  spent: number;
  revoked: number;
  valid: number;
}

/** Per CA: certificates issued, spent, revoked, and still valid now. */
export async function certificateCounts(
  db: Db,
  now: Date,
): Promise<Map<string, CertificateCounts>> {
  const rows = await db
    .select({
      caId: issuedCertificates.caId,
      issued: count(),
      spent: count(issuedCertificates.spentAt),
      revoked: count(issuedCertificates.revokedAt),
      valid: sql<number>`count(*) filter (where ${issuedCertificates.notAfter} > ${now.toISOString()}::timestamptz and ${issuedCertificates.revokedAt} is null)`,
    })
    .from(issuedCertificates)
    .groupBy(issuedCertificates.caId);
  return new Map(
    rows.map((r) => [
      r.caId,
      { issued: r.issued, spent: r.spent, revoked: r.revoked, valid: Number(r.valid) },
    ]),
  );
}
