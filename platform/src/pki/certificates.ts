// Issuing leaf certificates: OpenVPN servers (serverAuth), gateways and technicians (clientAuth).
import { isIP } from "node:net";
import type { CertificateKind } from "../db/index.ts";
import { type CertificateAuthority, EC_KEY, randomSerial, SIGNING, toPem } from "./ca.ts";
import type { ClientCertificateTemplate } from "./template.ts";
import { x509 } from "./x509.ts";

export interface IssuedCredentials {
  serial: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  certificatePem: string;
  privateKeyPem: string;
}

export interface CertificateRequest {
  kind: CertificateKind;
  /** Built only from ids and fixed words — never from names people typed. */
  commonName: string;
  validitySeconds: number;
  /** notBefore lies this far in the past, for clocks that lag. */
  clockSkewSeconds: number;
  now: Date;
  /** Subject alternative names (servers only). */
  altNames?: string[];
}

const COMMON_NAME = /^[a-z0-9][a-z0-9.:-]{0,63}$/;

/** Issues a certificate with a fresh key pair and a random serial, signed by `ca`. */
export async function issueCertificate(
  ca: CertificateAuthority,
  request: CertificateRequest,
): Promise<IssuedCredentials> {
  if (!COMMON_NAME.test(request.commonName))
    throw new Error(`refusing certificate name "${request.commonName}"`);
  const keys = (await crypto.subtle.generateKey(EC_KEY, true, ["sign", "verify"])) as CryptoKeyPair;
  const serial = randomSerial();
  const notBefore = new Date(request.now.getTime() - request.clockSkewSeconds * 1000);
  const notAfter = new Date(request.now.getTime() + request.validitySeconds * 1000);
  const subject = `CN=${request.commonName}, OU=${request.kind}, O=Meetpoint`;
  const server = request.kind === "server";
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([
      server ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
    ]),
    ca.authorityKeyIdentifier,
  ];
  if (request.altNames?.length) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        request.altNames.map((name) =>
          isIP(name) ? { type: "ip" as const, value: name } : { type: "dns" as const, value: name },
        ),
      ),
    );
  }
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject,
    issuer: ca.certificate.subject,
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    extensions,
  });
  return {
    serial,
    subject,
    // X.509 times have second precision: report what the certificate says.
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    certificatePem: certificate.toString("pem"),
    privateKeyPem: toPem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", keys.privateKey)),
  };
}

/** Seconds precision, as X.509 stores time. */
const wholeSeconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);

/** A one-time client certificate from a template: the same certificate as issueCertificate makes. */
export async function issueFromTemplate(
  template: ClientCertificateTemplate,
  kind: "technician" | "gateway",
  request: { ownerId: string; validitySeconds: number; clockSkewSeconds: number; now: Date },
): Promise<IssuedCredentials> {
  const keys = (await crypto.subtle.generateKey(EC_KEY, true, ["sign", "verify"])) as CryptoKeyPair;
  const [spki, pkcs8] = await Promise.all([
    crypto.subtle.exportKey("spki", keys.publicKey),
    crypto.subtle.exportKey("pkcs8", keys.privateKey),
  ]);
  const serial = randomSerial();
  const notBefore = wholeSeconds(request.now.getTime() - request.clockSkewSeconds * 1000);
  const notAfter = wholeSeconds(request.now.getTime() + request.validitySeconds * 1000);
  const der = await template.issue({
    serial,
    ownerId: request.ownerId,
    notBefore,
    notAfter,
    spki: new Uint8Array(spki),
  });
  return {
    serial,
    subject: `CN=${kind}.${request.ownerId}, OU=${kind}, O=Meetpoint`,
    notBefore,
    notAfter,
    certificatePem: toPem("CERTIFICATE", der.buffer as ArrayBuffer),
    privateKeyPem: toPem("PRIVATE KEY", pkcs8),
  };
}
