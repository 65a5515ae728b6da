// A development HTTPS certificate from the platform CA, for when no certificate is configured.
import { isIP } from "node:net";
import type { Clock } from "../shared/clock.ts";
import { type CertificateAuthority, EC_KEY, fingerprint, randomSerial, SIGNING } from "./ca.ts";
import { x509 } from "./x509.ts";

export interface TlsCredentials {
  /** Leaf certificate followed by the CA certificate, PEM. */
  certificatePem: string;
  privateKeyPem: string;
  fingerprint: string;
}

function pem(label: string, der: ArrayBuffer): string {
  const base64 = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${base64.trimEnd()}\n-----END ${label}-----\n`;
}

/** A 30-day serverAuth certificate for `hostnames` (DNS names or IP addresses) plus localhost. */
export async function developmentTlsCertificate(
  ca: CertificateAuthority,
  hostnames: string[],
  clock: Clock,
): Promise<TlsCredentials> {
  const keys = (await crypto.subtle.generateKey(EC_KEY, true, ["sign", "verify"])) as CryptoKeyPair;
  const names = [...new Set([...hostnames, "localhost", "127.0.0.1"])];
  const now = clock.now();
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: "CN=Meetpoint platform (development)",
    issuer: ca.certificate.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 30 * 86_400_000),
    signingAlgorithm: SIGNING,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        names.map((name) =>
          isIP(name) ? { type: "ip" as const, value: name } : { type: "dns" as const, value: name },
        ),
      ),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate),
    ],
  });
  return {
    certificatePem: `${certificate.toString("pem")}\n${ca.certificate.toString("pem")}`,
    privateKeyPem: pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", keys.privateKey)),
    fingerprint: await fingerprint(certificate),
  };
}
