// The few DER encodings the certificate template needs: lengths, ECDSA signatures, wrapping.

/** DER length octets for `length`. */
export function derLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** Tag + length + content. */
export function derElement(tag: number, content: Uint8Array): Uint8Array {
  const length = derLength(content.length);
  const out = new Uint8Array(1 + length.length + content.length);
  out[0] = tag;
  out.set(length, 1);
  out.set(content, 1 + length.length);
  return out;
}

/** The element starting at `offset`: where its content starts and ends. */
export function derRead(
  bytes: Uint8Array,
  offset: number,
): { tag: number; start: number; end: number } {
  const tag = bytes[offset] ?? -1;
  const first = bytes[offset + 1] ?? 0;
  let length = first;
  let start = offset + 2;
  if (first & 0x80) {
    length = 0;
    for (let i = 0; i < (first & 0x7f); i++) length = length * 256 + (bytes[offset + 2 + i] ?? 0);
    start += first & 0x7f;
  }
  return { tag, start, end: start + length };
}

function derUnsigned(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const trimmed = bytes.subarray(i);
  const positive = (trimmed[0] ?? 0) & 0x80 ? Uint8Array.of(0, ...trimmed) : trimmed;
  return derElement(0x02, positive);
}

/** WebCrypto's ECDSA signature (r ‖ s) as the DER SEQUENCE X.509 wants. */
export function ecdsaSignatureToDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  const r = derUnsigned(raw.subarray(0, half));
  const s = derUnsigned(raw.subarray(half));
  const both = new Uint8Array(r.length + s.length);
  both.set(r);
  both.set(s, r.length);
  return derElement(0x30, both);
}

/** Positions of every occurrence of `needle` in `haystack`. */
export function findAll(haystack: Uint8Array, needle: Uint8Array): number[] {
  const found: number[] = [];
  outer: for (let i = 0; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    found.push(i);
  }
  return found;
}
