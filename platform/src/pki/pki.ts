// The PKI service: the only holder of the CA keys and platform keys at run time. Everything else
// asks it for certificates, CRLs, trust bundles and signatures.
import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { type EnvelopeClaims, type EnvelopeKind, signEnvelope } from "@meetpoint/common";
import { sql } from "drizzle-orm";
import { type Actor, recordAudit } from "../audit/index.ts";
import type { CertificatePolicy } from "../config.ts";
import { type CertificateKind, type Db, inTransaction } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import { type CertificateAuthority, createCa, fingerprint, loadAuthorities } from "./ca.ts";
import { type IssuedCredentials, issueCertificate, issueFromTemplate } from "./certificates.ts";
import { buildCrl } from "./crl.ts";
import { seal, unseal } from "./kek.ts";
import { loadPlatformKeys, type PlatformKeys } from "./keys.ts";
import {
  type AuthorizeResult,
  authorizeCertificate,
  type CertificateCounts,
  caInUse,
  certificateCounts,
  recordCertificate,
  revokeCertificates,
  revokedOf,
} from "./registry.ts";
import { ClientCertificateTemplate } from "./template.ts";
import { x509 } from "./x509.ts";

/** The name every platform OpenVPN server certificate carries; clients check it (verify-x509-name). */
export const SERVER_NAME = "meetpoint-server";

export interface CaStatus {
  id: string;
  subject: string;
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
  active: boolean;
  trusted: boolean;
  counts: CertificateCounts;
}

export class Pki {
  private constructor(
    private readonly db: Db,
    private readonly kek: CryptoKey,
    private readonly clock: Clock,
    readonly policy: CertificatePolicy,
    private authorities: CertificateAuthority[],
    private readonly keys: PlatformKeys,
    private readonly trustDir: string | null,
  ) {}

  /** Loads (or at first start creates) the CAs and platform keys; needs the KEK. */
  /**
   * Loads (or at first start creates) the CAs and platform keys; needs the KEK. With `trustDir`,
   * the files openvpn reads (ca.pem, crl.pem, tls-crypt.key) are kept there: written now, and
   * again at every revocation, rotation and refreshTrustFiles().
   */
  static async open(options: {
    db: Db;
    kek: CryptoKey;
    clock: Clock;
    policy: CertificatePolicy;
    trustDir?: string;
  }): Promise<Pki> {
    const authorities = await loadAuthorities(options.db, options.kek, options.clock);
    const keys = await loadPlatformKeys(options.db, options.kek);
    const pki = new Pki(
      options.db,
      options.kek,
      options.clock,
      options.policy,
      authorities,
      keys,
      options.trustDir ?? null,
    );
    await pki.refreshTrustFiles();
    return pki;
  }

  /** Where the trust files are kept, or null when this PKI keeps none. */
  get trustFiles(): { ca: string; crl: string; tlsCrypt: string } | null {
    if (!this.trustDir) return null;
    return {
      ca: join(this.trustDir, "ca.pem"),
      crl: join(this.trustDir, "crl.pem"),
      tlsCrypt: join(this.trustDir, "tls-crypt.key"),
    };
  }

  /** Rewrites the trust files (if kept): call well within CRL_VALIDITY_MS, e.g. every 10 minutes. */

  async refreshTrustFiles(): Promise<void> {
    if (this.trustDir) await this.writeTrustFiles(this.trustDir);
  }

  /** The CA that signs new certificates: the newest. */
  get activeCa(): CertificateAuthority {
    const newest = this.authorities.at(-1);
    if (!newest) throw new Error("no certificate authority loaded");
    return newest;
  }

  get signingJwk() {
    return this.keys.envelopeSigningJwk;
  }

  get tlsCryptKey(): string {
    return this.keys.tlsCryptKey;
  }

  /** The active CA plus older ones that still have valid certificates out there. */
  async trustedAuthorities(): Promise<CertificateAuthority[]> {
    const active = this.activeCa;
    const now = this.clock.now();
    const inUse = await Promise.all(
      this.authorities.map((ca) => ca === active || caInUse(this.db, ca.id, now)),
    );
    return this.authorities.filter((_, i) => inUse[i]);
  }

  async trustBundlePem(): Promise<string> {
    return (await this.trustedAuthorities())
      .map((ca) => `${ca.certificate.toString("pem").trim()}\n`)
      .join("");
  }

  private templates = new Map<string, Promise<ClientCertificateTemplate>>();

  /**
   * Issues and records a one-time client certificate for a remote session or gateway session. It
   * may open its first connection until `lifetime.firstUseBy` (default: the policy's config window
   * from now) and lives until `lifetime.notAfter` (default: the same), so that the spent
   * connection's TLS renegotiations keep working until the session's end.
   */
  async issueClientCertificate(
    kind: "technician" | "gateway",
    ownerId: string,
    lifetime: { firstUseBy?: Date; notAfter?: Date } = {},
  ): Promise<IssuedCredentials & { firstUseBy: Date }> {
    const ca = this.activeCa;
    const key = `${ca.id}:${kind}`;
    let template = this.templates.get(key);
    if (!template) {
      template = ClientCertificateTemplate.create(ca, kind);
      this.templates.set(key, template);
    }
    const now = this.clock.now();
    const window =
      kind === "technician" ? this.policy.technicianSeconds : this.policy.gatewaySeconds;
    const firstUseBy = lifetime.firstUseBy ?? new Date(now.getTime() + window * 1000);
    const notAfter = lifetime.notAfter ?? firstUseBy;
    const issued = await issueFromTemplate(await template, kind, {
      ownerId: ownerId.toLowerCase(),
      validitySeconds: Math.max(1, Math.ceil((notAfter.getTime() - now.getTime()) / 1000)),
      clockSkewSeconds: this.policy.clockSkewSeconds,
      now,
    });
    await recordCertificate(this.db, ca.id, kind, ownerId, issued, firstUseBy);
    return { ...issued, firstUseBy };
  }

  /** Issues and records an OpenVPN server certificate (or the HTTPS development certificate). */
  issueServerCertificate(
    validitySeconds: number,
    altNames: string[] = [],
  ): Promise<IssuedCredentials> {
    return this.issue("server", null, { commonName: SERVER_NAME, validitySeconds, altNames });
  }

  private async issue(
    kind: CertificateKind,
    ownerId: string | null,
    options: { commonName: string; validitySeconds: number; altNames?: string[] },
  ): Promise<IssuedCredentials> {
    const ca = this.activeCa;
    const issued = await issueCertificate(ca, {
      kind,
      commonName: options.commonName,
      validitySeconds: options.validitySeconds,
      clockSkewSeconds: this.policy.clockSkewSeconds,
      now: this.clock.now(),
      altNames: options.altNames,
    });
    await recordCertificate(this.db, ca.id, kind, ownerId, issued);
    return issued;
  }

  /** The connect-time check: see authorizeCertificate. */
  authorize(serial: string, connection: string): Promise<AuthorizeResult> {
    return authorizeCertificate(this.db, serial, connection, this.clock.now());
  }

  /** Revokes by serials or owner, and rewrites the CRL; returns how many were newly revoked. */
  async revoke(
    which: { serials: string[] } | { ownerId: string },
    reason: string,
  ): Promise<number> {
    const revoked = await revokeCertificates(this.db, which, reason, this.clock.now());
    if (revoked > 0) await this.refreshTrustFiles();
    return revoked;
  }

  /** One CRL per trusted CA, concatenated: OpenVPN checks each certificate against its issuer's. */
  async crlPem(): Promise<string> {
    const now = this.clock.now();
    const crls = await Promise.all(
      (await this.trustedAuthorities()).map(async (ca) =>
        buildCrl(ca, await revokedOf(this.db, ca.id, now), now),
      ),
    );
    return crls.join("\n");
  }

  /**
   * Writes ca.pem, crl.pem and tls-crypt.key into `dir` for the OpenVPN servers. Each file is
   * replaced atomically, so openvpn never reads half a CRL.
   */
  async writeTrustFiles(dir: string): Promise<{ ca: string; crl: string; tlsCrypt: string }> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const files = {
      ca: join(dir, "ca.pem"),
      crl: join(dir, "crl.pem"),
      tlsCrypt: join(dir, "tls-crypt.key"),
    };
    const write = (path: string, content: string, mode: number) => {
      const temporary = `${path}.${process.pid}.tmp`;
      writeFileSync(temporary, content, { mode });
      // openvpn reloads a CRL only when its mtime (whole seconds) or size changed: make sure it did.
      const previous = existsSync(path) ? Math.floor(statSync(path).mtimeMs / 1000) : null;
      const now = Math.floor(Date.now() / 1000);
      if (previous !== null && previous >= now) utimesSync(temporary, previous + 1, previous + 1);
      renameSync(temporary, path);
    };
    write(files.ca, await this.trustBundlePem(), 0o644);
    write(files.crl, await this.crlPem(), 0o644);
    write(files.tlsCrypt, this.tlsCryptKey, 0o600);
    return files;
  }

  /**
   * What is wrong with the CRL file openvpn reads, or null when it is sound: present, parseable,
   * one current CRL per trusted CA. openvpn refuses to start without a CRL and refuses peers when
   * it is stale or garbage, but keeps its last good copy when the file vanishes while it runs —
   * so the platform checks this before it lets any connection through.
   */
  async trustFilesProblem(files: { crl: string }): Promise<string | null> {
    let text: string;
    try {
      text = readFileSync(files.crl, "utf8");
    } catch {
      return `CRL file ${files.crl} is missing or unreadable`;
    }
    const blocks = text.match(/-----BEGIN X509 CRL-----[^-]+-----END X509 CRL-----/g) ?? [];
    const now = this.clock.now();
    const current = new Set<string>();
    for (const block of blocks) {
      let crl: x509.X509Crl;
      try {
        crl = new x509.X509Crl(block);
      } catch {
        return `CRL file ${files.crl} holds an unreadable CRL`;
      }
      if (!crl.nextUpdate || crl.nextUpdate <= now)
        return `a CRL in ${files.crl} is stale (next update was ${crl.nextUpdate?.toISOString()})`;
      current.add(crl.issuer);
    }
    for (const ca of await this.trustedAuthorities()) {
      if (!current.has(ca.certificate.subject))
        return `CRL file ${files.crl} has no current CRL for ${ca.certificate.subject}`;
    }
    return null;
  }

  /** Introduces a new CA: it signs from now on; the old ones verify until their certificates expire. */
  async rotateCa(actor: Actor): Promise<CertificateAuthority> {
    const previous = this.activeCa;
    const ca = await inTransaction(this.db, async (tx) => {
      const created = await createCa(tx, this.kek, this.clock);
      await recordAudit(tx, this.clock, {
        actor,
        action: "ca.rotate",
        target: { type: "certificate_authority", id: created.id },
        detail: { previous: previous.id, fingerprint: await fingerprint(created.certificate) },
      });
      return created;
    });
    this.authorities = [...this.authorities, ca];
    await this.refreshTrustFiles();
    return ca;
  }

  async status(): Promise<CaStatus[]> {
    const now = this.clock.now();
    const [counts, trusted] = await Promise.all([
      certificateCounts(this.db, now),
      this.trustedAuthorities(),
    ]);
    return Promise.all(
      [...this.authorities].reverse().map(async (ca) => ({
        id: ca.id,
        subject: ca.certificate.subject,
        fingerprint: await fingerprint(ca.certificate),
        notBefore: ca.certificate.notBefore,
        notAfter: ca.certificate.notAfter,
        active: ca === this.activeCa,
        trusted: trusted.includes(ca),
        counts: counts.get(ca.id) ?? { issued: 0, spent: 0, revoked: 0, valid: 0 },
      })),
    );
  }

  /** Signs an envelope with the next version from the platform-wide sequence. */
  /** Seals another module's secret (OIDC client secrets and tokens) with the KEK. */
  async sealSecret(label: string, text: string): Promise<string> {
    return seal(this.kek, new TextEncoder().encode(text), label);
  }

  /** Reverses sealSecret; throws when the data was altered or sealed under another label. */
  async unsealSecret(label: string, sealed: string): Promise<string> {
    return new TextDecoder().decode(await unseal(this.kek, sealed, label));
  }

  async signEnvelope<K extends EnvelopeKind>(
    claims: Omit<EnvelopeClaims<K>, "version">,
  ): Promise<{ token: string; version: number }> {
    const result = await this.db.execute(sql`select nextval('envelope_versions') as version`);
    const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as {
      version: string | number;
    }[];
    const version = Number(rows[0]?.version);
    const token = await signEnvelope(this.keys.envelopeSigningKey, {
      ...claims,
      version,
    } as EnvelopeClaims<K>);
    return { token, version };
  }
}
