// The development HTTPS certificate from the platform CA, for when no certificate is configured:
// kept on disk across restarts (its fingerprint, which users compare, stays the same) and renewed
// while the platform runs, well before it expires.
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Clock } from "../shared/index.ts";
import { fingerprint } from "./ca.ts";
import type { Pki } from "./pki.ts";
import { x509 } from "./x509.ts";

export interface TlsCredentials {
  /** Leaf certificate followed by the CA certificate, PEM. */
  certificatePem: string;
  privateKeyPem: string;
  /** SHA-256 of the leaf certificate, colon-separated hex. */
  fingerprint: string;
  notAfter: Date;
}

/** Lifetime of a development certificate: 30 days. */
const LIFETIME_S = 30 * 86_400;
/** Renewed when less than this is left: 10 days. */
const RENEW_BEFORE_MS = 10 * 86_400_000;

/** A 30-day serverAuth certificate for `hostnames` (DNS names or IP addresses) plus localhost. */
export async function developmentTlsCertificate(
  pki: Pki,
  hostnames: string[],
): Promise<TlsCredentials> {
  const issued = await pki.issueServerCertificate(LIFETIME_S, namesOf(hostnames));
  return {
    certificatePem: `${issued.certificatePem}\n${pki.activeCa.certificate.toString("pem")}`,
    privateKeyPem: issued.privateKeyPem,
    fingerprint: await fingerprint(new x509.X509Certificate(issued.certificatePem)),
    notAfter: issued.notAfter,
  };
}

const namesOf = (hostnames: string[]) => [...new Set([...hostnames, "localhost", "127.0.0.1"])];

/**
 * The development certificate of this platform, in `dir` (https-dev.pem with the chain,
 * https-dev.key, both mode 0600): reused at start while it has more than 10 days left and names
 * the same hosts, renewed otherwise.
 */
export class DevelopmentCertificate implements CertificateSource {
  private readonly certFile: string;
  private readonly keyFile: string;
  private credentials: TlsCredentials | null = null;

  constructor(
    private readonly pki: Pki,
    private readonly clock: Clock,
    dir: string,
    private readonly hostnames: string[],
  ) {
    this.certFile = join(dir, "https-dev.pem");
    this.keyFile = join(dir, "https-dev.key");
  }

  /** The credentials to serve now: the kept ones when still good, else new ones (kept). */
  async current(): Promise<TlsCredentials> {
    this.credentials ??= await this.load();
    if (!this.credentials || this.due(this.credentials)) this.credentials = await this.issue();
    return this.credentials;
  }

  /** New credentials when the current ones have less than 10 days left; null when not due. */
  async renewIfDue(): Promise<TlsCredentials | null> {
    const held = this.credentials ?? (await this.load());
    if (held && !this.due(held)) {
      this.credentials = held;
      return null;
    }
    this.credentials = await this.issue();
    return this.credentials;
  }

  private due(credentials: TlsCredentials): boolean {
    return credentials.notAfter.getTime() - this.clock.now().getTime() < RENEW_BEFORE_MS;
  }

  private async issue(): Promise<TlsCredentials> {
    const credentials = await developmentTlsCertificate(this.pki, this.hostnames);
    writeFileSync(this.keyFile, credentials.privateKeyPem, { mode: 0o600 });
    writeFileSync(this.certFile, credentials.certificatePem, { mode: 0o600 });
    return credentials;
  }

  /** The kept credentials, if they exist, parse, and name every host; else null. */
  private async load(): Promise<TlsCredentials | null> {
    if (!existsSync(this.certFile) || !existsSync(this.keyFile)) return null;
    try {
      const certificatePem = readFileSync(this.certFile, "utf8");
      const leaf = new x509.X509Certificate(certificatePem);
      const names = leaf.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [];
      const covered = new Set(names.map((n) => n.value));
      if (!namesOf(this.hostnames).every((name) => covered.has(name))) return null;
      return {
        certificatePem,
        privateKeyPem: readFileSync(this.keyFile, "utf8"),
        fingerprint: await fingerprint(leaf),
        notAfter: leaf.notAfter,
      };
    } catch {
      return null;
    }
  }
}

/** Where the HTTPS credentials come from: asked at start, and periodically whether they changed. */
export interface CertificateSource {
  current(): Promise<TlsCredentials>;
  /** New credentials to serve from now on, or null. */
  renewIfDue(): Promise<TlsCredentials | null>;
}

/**
 * A certificate the operator configured (MEETPOINT_TLS_CERT / MEETPOINT_TLS_KEY): read at start,
 * and read again when either file changes (a renewal by certbot or the company's PKI), so the
 * new certificate is served without a restart.
 */
export class ConfiguredCertificate implements CertificateSource {
  private stamp = "";

  constructor(private readonly files: { certFile: string; keyFile: string }) {}

  async current(): Promise<TlsCredentials> {
    this.stamp = this.filesStamp();
    const certificatePem = readFileSync(this.files.certFile, "utf8");
    const leaf = new x509.X509Certificate(certificatePem);
    return {
      certificatePem,
      privateKeyPem: readFileSync(this.files.keyFile, "utf8"),
      fingerprint: await fingerprint(leaf),
      notAfter: leaf.notAfter,
    };
  }

  async renewIfDue(): Promise<TlsCredentials | null> {
    return this.filesStamp() === this.stamp ? null : this.current();
  }

  private filesStamp(): string {
    return [this.files.certFile, this.files.keyFile]
      .map((file) => `${statSync(file).mtimeMs}:${statSync(file).size}`)
      .join("|");
  }
}
