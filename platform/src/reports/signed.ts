// The downloadable transparency report: the report in clear, and the same report as a compact JWS
// (RFC 7515) signed by the platform's audit signing key (ES256, RFC 7518) — the key that signs the
// audit log's checkpoints and exported heads, published at /pki/signing-key.jwk.
import type { TransparencyReport } from "./transparency.ts";

/** What signs: a compact JWS over `payload` serialised as JSON, with `kid` in its header. */
export interface ReportSigner {
  kid: string;
  sign(payload: unknown): Promise<string>;
}

/**
 * The file a customer downloads: `report` for reading, `jws` for proof. The JWS payload is
 * JSON.stringify(report), so a verifier checks the signature and then that the payload, parsed
 * and serialised again, equals `report` serialised — a change to either is detected.
 */
export interface SignedReportFile {
  report: TransparencyReport;
  /** Compact JWS serialisation: base64url(header).base64url(payload).base64url(signature). */
  jws: string;
  /** The key id (RFC 7638 thumbprint) of the signing key, also in the JWS header. */
  kid: string;
}

export async function signedReportFile(
  signer: ReportSigner,
  report: TransparencyReport,
): Promise<SignedReportFile> {
  return { report, jws: await signer.sign(report), kid: signer.kid };
}
