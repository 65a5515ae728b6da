// The platform's PKI: internal CA, its key under the KEK, certificates it issues.
export { type CertificateAuthority, fingerprint, loadOrCreateCa } from "./ca.ts";
export { loadKek } from "./kek.ts";
export { developmentTlsCertificate, type TlsCredentials } from "./tls.ts";
