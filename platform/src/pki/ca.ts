// The platform's internal certificate authority (ECDSA P-256), created at first start.

import { desc, gt } from "drizzle-orm";
import { certificateAuthorities, type Db } from "../db/index.ts";
import type { Clock } from "../shared/clock.ts";
import { seal, unseal } from "./kek.ts";
import { x509 } from "./x509.ts";

export const EC_KEY = { name: "ECDSA", namedCurve: "P-256" } as const;
export const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;
const CA_YEARS = 10;

export interface CertificateAuthority {
  id: string;
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
}

/** A random positive 128-bit serial number, hex. */
export function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}

async function createCa(db: Db, kek: CryptoKey, clock: Clock): Promise<CertificateAuthority> {
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
  });
  return { id, certificate, privateKey: await importSigningKey(pkcs8) };
}

function importSigningKey(pkcs8: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey("pkcs8", pkcs8, EC_KEY, false, ["sign"]);
}

/** The newest valid CA, created when there is none. Its key is decrypted with the KEK. */
export async function loadOrCreateCa(
  db: Db,
  kek: CryptoKey,
  clock: Clock,
): Promise<CertificateAuthority> {
  const [row] = await db
    .select()
    .from(certificateAuthorities)
    .where(gt(certificateAuthorities.notAfter, clock.now()))
    .orderBy(desc(certificateAuthorities.createdAt))
    .limit(1);
  if (!row) return createCa(db, kek, clock);
  const pkcs8 = await unseal(kek, row.encryptedKey, `ca:${row.id}`);
  return {
    id: row.id,
    certificate: new x509.X509Certificate(row.certificatePem),
    privateKey: await importSigningKey(pkcs8),
  };
}

/** SHA-256 fingerprint, colon-separated upper-case hex as browsers show it. */
export async function fingerprint(certificate: x509.X509Certificate): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", certificate.rawData));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
}
