// Fast issuance of one-time client certificates. @peculiar/x509 builds one certificate per CA and
// kind with placeholder values; each new certificate is that DER with the serial, validity, owner
// id and public key written over the placeholders (all fixed-length), then signed. That keeps the
// structure the library made, and costs a key pair and a signature instead of ~2 ms of ASN.1 work.

import { type CertificateAuthority, EC_KEY, SIGNING } from "./ca.ts";
import { derElement, derRead, ecdsaSignatureToDer, findAll } from "./der.ts";
import { x509 } from "./x509.ts";

const PLACEHOLDER_SERIAL = "7e".repeat(16);
const PLACEHOLDER_OWNER = "ffffffff-eeee-4ddd-8ccc-bbbbbbbbbbbb";
const PLACEHOLDER_NOT_BEFORE = new Date("2030-01-02T03:04:05Z");
const PLACEHOLDER_NOT_AFTER = new Date("2031-06-07T08:09:10Z");

/** YYMMDDHHMMSSZ, as X.509 writes dates before 2050. */
function utcTime(date: Date): Uint8Array {
  const iso = date.toISOString();
  return new TextEncoder().encode(
    `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`,
  );
}

function onlyOne(positions: number[], what: string): number {
  if (positions.length !== 1 || positions[0] === undefined)
    throw new Error(`certificate template: ${what} found ${positions.length} times`);
  return positions[0];
}

export class ClientCertificateTemplate {
  private constructor(
    private readonly ca: CertificateAuthority,
    private readonly tbs: Uint8Array,
    private readonly signatureAlgorithm: Uint8Array,
    private readonly at: {
      serial: number;
      owner: number;
      notBefore: number;
      notAfter: number;
      publicKey: number;
    },
  ) {}

  /** Builds the template for `kind` certificates of `ca` (client certificates: CN = kind.<uuid>). */
  static async create(
    ca: CertificateAuthority,
    kind: "technician" | "gateway",
  ): Promise<ClientCertificateTemplate> {
    const keys = (await crypto.subtle.generateKey(EC_KEY, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: PLACEHOLDER_SERIAL,
      subject: `CN=${kind}.${PLACEHOLDER_OWNER}, OU=${kind}, O=Meetpoint`,
      issuer: ca.certificate.subject,
      notBefore: PLACEHOLDER_NOT_BEFORE,
      notAfter: PLACEHOLDER_NOT_AFTER,
      signingAlgorithm: SIGNING,
      publicKey: keys.publicKey,
      signingKey: ca.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        ca.authorityKeyIdentifier,
      ],
    });
    const der = new Uint8Array(certificate.rawData);
    const outer = derRead(der, 0);
    const tbsElement = derRead(der, outer.start);
    const tbs = der.slice(outer.start, tbsElement.end);
    const algorithm = derRead(der, tbsElement.end);
    const signatureAlgorithm = der.slice(tbsElement.end, algorithm.end);
    const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
    const at = {
      serial: onlyOne(findAll(tbs, Buffer.from(PLACEHOLDER_SERIAL, "hex")), "serial"),
      owner: onlyOne(findAll(tbs, new TextEncoder().encode(PLACEHOLDER_OWNER)), "owner id"),
      notBefore: onlyOne(findAll(tbs, utcTime(PLACEHOLDER_NOT_BEFORE)), "notBefore"),
      notAfter: onlyOne(findAll(tbs, utcTime(PLACEHOLDER_NOT_AFTER)), "notAfter"),
      publicKey: onlyOne(findAll(tbs, spki), "public key"),
    };
    return new ClientCertificateTemplate(ca, tbs, signatureAlgorithm, at);
  }

  /** A signed certificate (DER) for `spki` (a P-256 public key), like the library would make it. */
  async issue(input: {
    serial: string;
    ownerId: string;
    notBefore: Date;
    notAfter: Date;
    spki: Uint8Array;
  }): Promise<Uint8Array> {
    if (!/^[1-7][0-9a-f]{31}$/.test(input.serial))
      throw new Error("template serials are 16 bytes, first 0x10–0x7f");
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(input.ownerId))
      throw new Error("owner id must be a lower-case UUID");
    if (input.notAfter.getUTCFullYear() >= 2050 || input.notBefore.getUTCFullYear() < 1950)
      throw new Error("validity outside UTCTime");
    const tbs = this.tbs.slice();
    tbs.set(Buffer.from(input.serial, "hex"), this.at.serial);
    tbs.set(new TextEncoder().encode(input.ownerId), this.at.owner);
    tbs.set(utcTime(input.notBefore), this.at.notBefore);
    tbs.set(utcTime(input.notAfter), this.at.notAfter);
    tbs.set(input.spki, this.at.publicKey);
    const signature = new Uint8Array(await crypto.subtle.sign(SIGNING, this.ca.privateKey, tbs));
    const bitString = derElement(0x03, Uint8Array.of(0, ...ecdsaSignatureToDer(signature)));
    const body = new Uint8Array(tbs.length + this.signatureAlgorithm.length + bitString.length);
    body.set(tbs);
    body.set(this.signatureAlgorithm, tbs.length);
    body.set(bitString, tbs.length + this.signatureAlgorithm.length);
    return derElement(0x30, body);
  }
}
