// SSH public keys as people paste them (OpenSSH's one-line format, sshd(8) "AUTHORIZED_KEYS FILE
// FORMAT" without options): checked down to the key blob's wire format (RFC 4253 §6.6 ssh-rsa,
// RFC 5656 §3.1 ecdsa-sha2-*, RFC 8709 §4 ssh-ed25519), so what reaches a gateway's authorized_keys
// is exactly one real key of an accepted kind and size, and nothing else.

/** Key types a gateway accepts; ssh-dss (DSA, 1024 bits) and small RSA keys are refused. */
export const SSH_KEY_TYPES = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
] as const;
export type SshKeyType = (typeof SSH_KEY_TYPES)[number];

/** Smallest RSA modulus accepted, in bits (BSI TR-02102-1 asks for 3000 and more). */
export const MIN_RSA_BITS = 3072;

/** A checked key: `line` is what goes into authorized_keys (type and blob, never the comment). */
export interface SshPublicKey {
  type: SshKeyType;
  /** Size in bits: the RSA modulus, the curve's size, 256 for Ed25519. */
  bits: number;
  /** "SHA256:<base64 without padding>", as ssh-keygen -l and the SSH servers' logs print it. */
  fingerprint: string;
  /** The comment after the key as pasted (at most 100 printable characters), or "". */
  comment: string;
  /** "<type> <base64 blob>". */
  line: string;
}

export type SshKeyResult = { ok: true; key: SshPublicKey } | { ok: false; reason: string };

const CURVES: Record<string, { name: string; bits: number; point: number }> = {
  "ecdsa-sha2-nistp256": { name: "nistp256", bits: 256, point: 65 },
  "ecdsa-sha2-nistp384": { name: "nistp384", bits: 384, point: 97 },
  "ecdsa-sha2-nistp521": { name: "nistp521", bits: 521, point: 133 },
};

/** Reads the SSH wire format's length-prefixed strings (RFC 4251 §5 "string", "mpint"). */
class Reader {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}
  string(): Uint8Array | null {
    if (this.at + 4 > this.bytes.length) return null;
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.at, 4);
    const length = view.getUint32(0);
    this.at += 4;
    if (this.at + length > this.bytes.length) return null;
    const value = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return value;
  }
  get done(): boolean {
    return this.at === this.bytes.length;
  }
}

/** Bits of a positive mpint (leading zero bytes and bits not counted). */
function mpintBits(value: Uint8Array): number {
  let i = 0;
  while (i < value.length && value[i] === 0) i++;
  if (i === value.length) return 0;
  return (value.length - i - 1) * 8 + (32 - Math.clz32(value[i] as number));
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const COMMENT = /^[\x20-\x7e]{0,100}$/;

/**
 * Checks one pasted public key, "<type> <base64> [comment]". Refuses, with the reason in words:
 * more than one line, options before the key, unknown or refused types (DSA), a blob that is not
 * base64 or not a key of the named type, RSA under 3072 bits.
 */
export function parseSshPublicKey(text: string): SshKeyResult {
  const trimmed = text.trim();
  if (trimmed === "") return { ok: false, reason: "empty: paste one public key (ssh-ed25519 …)" };
  if (/[\r\n]/.test(trimmed)) return { ok: false, reason: "one key per entry, on one line" };
  const [type = "", blob = "", ...rest] = trimmed.split(/[ \t]+/);
  const comment = rest.join(" ");
  if (type === "ssh-dss")
    return { ok: false, reason: "DSA keys (ssh-dss) are refused: use an Ed25519 key" };
  if (!(SSH_KEY_TYPES as readonly string[]).includes(type))
    return {
      ok: false,
      reason: /^-----BEGIN/.test(type)
        ? "that is a PEM file: paste the public key line (ssh-keygen -y -f key, or the .pub file)"
        : `not a public key of an accepted type (${SSH_KEY_TYPES.join(", ")}); options before the key are not allowed`,
    };
  if (!BASE64.test(blob) || blob.length % 4 !== 0)
    return { ok: false, reason: "the key's base64 part is damaged (truncated or altered?)" };
  if (!COMMENT.test(comment))
    return { ok: false, reason: "the comment after the key holds characters that are not allowed" };
  const bytes = new Uint8Array(Buffer.from(blob, "base64"));
  const reader = new Reader(bytes);
  const inner = reader.string();
  if (!inner)
    return { ok: false, reason: "the key's base64 part is damaged (truncated or altered?)" };
  if (new TextDecoder().decode(inner) !== type)
    return { ok: false, reason: `not a valid ${type} key: the key data names another type` };
  let bits: number;
  if (type === "ssh-ed25519") {
    const key = reader.string();
    if (key?.length !== 32) return { ok: false, reason: "not a valid ssh-ed25519 key" };
    bits = 256;
  } else if (type === "ssh-rsa") {
    const exponent = reader.string();
    const modulus = reader.string();
    if (!exponent || !modulus || mpintBits(exponent) < 2 || mpintBits(modulus) === 0)
      return { ok: false, reason: "not a valid ssh-rsa key" };
    bits = mpintBits(modulus);
    if (bits < MIN_RSA_BITS)
      return {
        ok: false,
        reason: `RSA key of ${bits} bits: at least ${MIN_RSA_BITS} are required (or use Ed25519)`,
      };
  } else {
    const curve = CURVES[type] as { name: string; bits: number; point: number };
    const name = reader.string();
    const point = reader.string();
    if (
      !name ||
      new TextDecoder().decode(name) !== curve.name ||
      point?.length !== curve.point ||
      point[0] !== 4
    )
      return { ok: false, reason: `not a valid ${type} key` };
    bits = curve.bits;
  }
  if (!reader.done) return { ok: false, reason: `not a valid ${type} key: data after the key` };
  const digest = new Bun.CryptoHasher("sha256").update(bytes).digest("base64");
  return {
    ok: true,
    key: {
      type: type as SshKeyType,
      bits,
      fingerprint: `SHA256:${digest.replace(/=+$/, "")}`,
      comment,
      line: `${type} ${blob}`,
    },
  };
}
