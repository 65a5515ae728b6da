// The key-encryption key (AES-256-GCM) that protects the CA's private key at rest.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import {
  decodeBase64urlIgnorePadding,
  decodeHex,
  encodeBase64urlNoPadding,
  encodeHexLowerCase,
} from "@oslojs/encoding";

/**
 * The KEK from 64 hex characters, or from a file holding them; a missing file is created with
 * a fresh random key and mode 0600 (first start).
 */
export async function loadKek(source: { hex: string } | { file: string }): Promise<CryptoKey> {
  let hex: string;
  if ("hex" in source) {
    hex = source.hex;
  } else {
    if (!existsSync(source.file)) {
      mkdirSync(dirname(source.file), { recursive: true });
      writeFileSync(
        source.file,
        `${encodeHexLowerCase(crypto.getRandomValues(new Uint8Array(32)))}\n`,
        {
          mode: 0o600,
          flag: "wx",
        },
      );
      chmodSync(source.file, 0o600);
    }
    hex = readFileSync(source.file, "utf8").trim();
    if (!/^[0-9a-f]{64}$/i.test(hex))
      throw new Error(`KEK file ${source.file}: expected 64 hex characters`);
  }
  return crypto.subtle.importKey(
    "raw",
    new Uint8Array(decodeHex(hex.toLowerCase())),
    "AES-GCM",
    false,
    ["encrypt", "decrypt"],
  );
}

/** Encrypts with a random 96-bit IV; the result is "iv.ciphertext" in base64url. */
export async function seal(
  kek: CryptoKey,
  plaintext: Uint8Array<ArrayBuffer>,
  label: string,
): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const additionalData = new TextEncoder().encode(label);
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData },
    kek,
    plaintext,
  );
  return `${encodeBase64urlNoPadding(iv)}.${encodeBase64urlNoPadding(new Uint8Array(ciphertext))}`;
}

/** Reverses seal; throws when the KEK or the label is wrong or the data was altered. */
export async function unseal(
  kek: CryptoKey,
  sealed: string,
  label: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const [iv, ciphertext] = sealed.split(".");
  if (!iv || !ciphertext) throw new Error("sealed value is malformed");
  const additionalData = new TextEncoder().encode(label);
  try {
    const plaintext = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: new Uint8Array(decodeBase64urlIgnorePadding(iv)), additionalData },
      kek,
      new Uint8Array(decodeBase64urlIgnorePadding(ciphertext)),
    );
    return new Uint8Array(plaintext);
  } catch (cause) {
    throw new Error("cannot decrypt: wrong key-encryption key or altered data", { cause });
  }
}
