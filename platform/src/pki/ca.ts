// The platform's internal certificate authorities (ECDSA P-256): created at first start, rotated by
// an admin. The newest signs; older ones keep verifying until they expire or are retired.
import { asc, gt } from "drizzle-orm";
import { certificateAuthorities, type Db } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import { seal, unseal } from "./kek.ts";
import { x509 } from "./x509.ts";

export const EC_KEY = { name: "ECDSA", namedCurve: "P-256" } as const;
export const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;
const CA_YEARS = 10;

export interface CertificateAuthority {
  id: string;
  certificate: x509.X509Certificate;
  /** Computed once: every certificate this CA issues carries it. */
  authorityKeyIdentifier: x509.AuthorityKeyIdentifierExtension;
  /** Non-extractable: usable for signing, never readable. */
  privateKey: CryptoKey;
  createdAt: Date;
}

/**
 * A random 128-bit serial as lower-case hex. The first byte lies in 0x10–0x7f: positive in DER and
 * without a leading zero, so the hex form is the same everywhere (database, CRL, OpenVPN).
 */
export function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = 0x10 + ((bytes[0] ?? 0) % 0x70);
  return Buffer.from(bytes).toString("hex");
}

/** Normalises a serial from any source ("0A:1B:…", "0a1b…") to the stored form. */
export function normalizeSerial(serial: string): string {
  return serial
    .replaceAll(":", "")
    .toLowerCase()
    .replace(/^0+(?=.)/, "");
}

function importSigningKey(pkcs8: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey("pkcs8", pkcs8, EC_KEY, false, ["sign"]);
}

/** Creates a new CA, stores it (key sealed with the KEK) and returns it: it becomes the active one. */
export async function createCa(
  db: Db,
  kek: CryptoKey,
  clock: Clock,
): Promise<CertificateAuthority> {
  const keys = (await crypto.subtle.generateKey(EC_KEY, true, ["sign", "verify"])) as CryptoKeyPair;
  const now = clock.now();
  const id = crypto.randomUUID();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=Meetpoint CA ${id}, O=Meetpoint`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + CA_YEARS * 365 * 86_400_000),
    signingAlgorithm: SIGNING,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  await db.insert(certificateAuthorities).values({
    id,
    certificatePem: certificate.toString("pem"),
    encryptedKey: await seal(kek, pkcs8, `ca:${id}`),
    notAfter: certificate.notAfter,
    createdAt: now,
  });
  return {
    id,
    certificate,
    authorityKeyIdentifier: await x509.AuthorityKeyIdentifierExtension.create(certificate),
    privateKey: await importSigningKey(pkcs8),
    createdAt: now,
  };
}

/** All unexpired CAs, oldest first, their keys unsealed; a first one is created when there is none. */
export async function loadAuthorities(
  db: Db,
  kek: CryptoKey,
  clock: Clock,
): Promise<CertificateAuthority[]> {
  const rows = await db
    .select()
    .from(certificateAuthorities)
    .where(gt(certificateAuthorities.notAfter, clock.now()))
    .orderBy(asc(certificateAuthorities.createdAt));
  if (rows.length === 0) return [await createCa(db, kek, clock)];
  return Promise.all(
    rows.map(async (row) => {
      const certificate = new x509.X509Certificate(row.certificatePem);
      return {
        id: row.id,
        certificate,
        authorityKeyIdentifier: await x509.AuthorityKeyIdentifierExtension.create(certificate),
        privateKey: await importSigningKey(await unseal(kek, row.encryptedKey, `ca:${row.id}`)),
        createdAt: row.createdAt,
      };
    }),
  );
}

/** SHA-256 fingerprint, colon-separated upper-case hex as browsers show it. */
export async function fingerprint(certificate: x509.X509Certificate): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", certificate.rawData));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
}

export function toPem(label: string, der: ArrayBuffer): string {
  const base64 = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${base64.trimEnd()}\n-----END ${label}-----\n`;
}
