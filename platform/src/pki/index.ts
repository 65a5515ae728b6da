// The platform's PKI: internal CAs, one-time certificates, CRLs, platform keys, envelope signing.
export { type CertificateAuthority, fingerprint, normalizeSerial } from "./ca.ts";
export type { IssuedCredentials } from "./certificates.ts";
export { CRL_VALIDITY_MS } from "./crl.ts";
export { loadKek } from "./kek.ts";
export { newTlsCryptKey } from "./keys.ts";
export { type CaStatus, Pki, SERVER_NAME } from "./pki.ts";
export type { AuthorizeResult } from "./registry.ts";
export {
  type CertificateSource,
  ConfiguredCertificate,
  DevelopmentCertificate,
  developmentTlsCertificate,
  type TlsCredentials,
} from "./tls.ts";
