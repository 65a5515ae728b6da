// Certificate revocation lists: one per CA, short-lived, so a CRL that stops being renewed makes
// connections fail instead of letting revoked certificates through.
import type { CertificateAuthority } from "./ca.ts";
import { SIGNING, toPem } from "./ca.ts";
import { x509 } from "./x509.ts";

/** How long a CRL is valid; it is renewed well before, and at every revocation. */
export const CRL_VALIDITY_MS = 60 * 60_000;

export async function buildCrl(
  ca: CertificateAuthority,
  revoked: { serial: string; revokedAt: Date }[],
  now: Date,
): Promise<string> {
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.certificate.subject,
    thisUpdate: new Date(now.getTime() - 60_000),
    nextUpdate: new Date(now.getTime() + CRL_VALIDITY_MS),
    entries: revoked.map((r) => ({
      serialNumber: r.serial.length % 2 ? `0${r.serial}` : r.serial,
      revocationDate: r.revokedAt,
      reason: x509.X509CrlReason.cessationOfOperation,
    })),
    signingAlgorithm: SIGNING,
    signingKey: ca.privateKey,
  });
  // OpenSSL and OpenVPN read CRLs under the label "X509 CRL".
  return toPem("X509 CRL", crl.rawData);
}
