// The envelope signing key (ECDSA P-256) and the OpenVPN tls-crypt key, created once, sealed with the KEK.

import type { PublicJwk } from "@meetpoint/common";
import { eq } from "drizzle-orm";
import { type Db, type PlatformKeyPurpose, platformKeys } from "../db/index.ts";
import { EC_KEY } from "./ca.ts";
import { seal, unseal } from "./kek.ts";

export interface PlatformKeys {
  /** Signs envelopes and enrollment bundles; non-extractable. */
  envelopeSigningKey: CryptoKey;
  /** Its public half, pinned by every gateway. */
  envelopeSigningJwk: PublicJwk;
  /** "OpenVPN Static key V1" for tls-crypt. */
  tlsCryptKey: string;
}

/** A new tls-crypt key: 2048 random bits in OpenVPN's static key format. */
export function newTlsCryptKey(): string {
  const hex = Buffer.from(crypto.getRandomValues(new Uint8Array(256))).toString("hex");
  const lines = hex.match(/.{32}/g) ?? [];
  return `-----BEGIN OpenVPN Static key V1-----\n${lines.join("\n")}\n-----END OpenVPN Static key V1-----\n`;
}

async function loadOrCreate(
  db: Db,
  kek: CryptoKey,
  purpose: PlatformKeyPurpose,
  create: () => Promise<{ secret: Uint8Array<ArrayBuffer>; publicJwk?: PublicJwk }>,
): Promise<{ secret: Uint8Array<ArrayBuffer>; publicJwk: PublicJwk | null }> {
  const [row] = await db.select().from(platformKeys).where(eq(platformKeys.purpose, purpose));
  if (row)
    return {
      secret: await unseal(kek, row.sealed, `key:${purpose}`),
      publicJwk: row.publicJwk as PublicJwk | null,
    };
  const created = await create();
  // Another instance may have created it meanwhile: the first one wins, everyone uses it.
  await db
    .insert(platformKeys)
    .values({
      purpose,
      sealed: await seal(kek, created.secret, `key:${purpose}`),
      publicJwk: created.publicJwk ?? null,
    })
    .onConflictDoNothing();
  return loadOrCreate(db, kek, purpose, create);
}

export async function loadPlatformKeys(db: Db, kek: CryptoKey): Promise<PlatformKeys> {
  const signing = await loadOrCreate(db, kek, "envelope_signing", async () => {
    const pair = (await crypto.subtle.generateKey(EC_KEY, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
    return {
      secret: new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey)),
      publicJwk: { kty, crv, x, y } as PublicJwk,
    };
  });
  const tlsCrypt = await loadOrCreate(db, kek, "tls_crypt", async () => ({
    secret: new TextEncoder().encode(newTlsCryptKey()),
  }));
  if (!signing.publicJwk) throw new Error("envelope signing key has no public half");
  return {
    envelopeSigningKey: await crypto.subtle.importKey("pkcs8", signing.secret, EC_KEY, false, [
      "sign",
    ]),
    envelopeSigningJwk: signing.publicJwk,
    tlsCryptKey: new TextDecoder().decode(tlsCrypt.secret),
  };
}
