// The TLS policy of Meetpoint's HTTPS servers, the platform's portal and API and the gateway's
// operator UI: TLS 1.3, and TLS 1.2 only with forward-secret AEAD suites — ECDHE with AES-GCM or
// ChaCha20-Poly1305 (Mozilla's "intermediate" server configuration, version 5.7). TLS 1.3's own
// suites are all AEAD; TLS 1.0 and 1.1 are off. For Bun.serve({ tls: { ...TLS_SERVER_POLICY } }).
import { constants } from "node:crypto";

/** The TLS 1.2 suites allowed, in OpenSSL's names, the server's preference first. */
export const TLS12_CIPHER_SUITES = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
] as const;

/**
 * Bun's TLS options for a server: `ciphers` (an OpenSSL cipher list, applies to TLS 1.2; see
 * openssl-ciphers(1)) and `secureOptions` (SSL_OP_* bits) turning off TLS 1.0 and 1.1.
 */
export const TLS_SERVER_POLICY = {
  ciphers: TLS12_CIPHER_SUITES.join(":"),
  secureOptions: constants.SSL_OP_NO_TLSv1 | constants.SSL_OP_NO_TLSv1_1,
} as const;
