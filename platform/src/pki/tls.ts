// A development HTTPS certificate from the platform CA, for when no certificate is configured.
import { fingerprint } from "./ca.ts";
import type { Pki } from "./pki.ts";
import { x509 } from "./x509.ts";

export interface TlsCredentials {
  /** Leaf certificate followed by the CA certificate, PEM. */
  certificatePem: string;
  privateKeyPem: string;
  fingerprint: string;
}

/** A 30-day serverAuth certificate for `hostnames` (DNS names or IP addresses) plus localhost. */
export async function developmentTlsCertificate(
  pki: Pki,
  hostnames: string[],
): Promise<TlsCredentials> {
  const names = [...new Set([...hostnames, "localhost", "127.0.0.1"])];
  const issued = await pki.issueServerCertificate(30 * 86_400, names);
  return {
    certificatePem: `${issued.certificatePem}\n${pki.activeCa.certificate.toString("pem")}`,
    privateKeyPem: issued.privateKeyPem,
    fingerprint: await fingerprint(new x509.X509Certificate(issued.certificatePem)),
  };
}
