// IPv4 addresses and CIDR blocks as plain numbers: the arithmetic behind proxy address pools.

/** An IPv4 network: base address (as unsigned 32-bit number) and prefix length 0–32. */
export interface Cidr {
  base: number;
  prefix: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Parses dotted-quad notation ("100.64.0.1"); null when it is not exactly that. */
export function parseIpv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) return null;
    value = value * 256 + Number(part);
  }
  return value;
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

/** Parses "a.b.c.d/n" whose host bits are zero; null otherwise. */
export function parseCidr(text: string): Cidr | null {
  const [address, prefixText, extra] = text.split("/");
  if (address === undefined || prefixText === undefined || extra !== undefined) return null;
  if (!/^(3[0-2]|[12]?\d)$/.test(prefixText)) return null;
  const base = parseIpv4(address);
  const prefix = Number(prefixText);
  if (base === null || base % blockSize(prefix) !== 0) return null;
  return { base, prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIpv4(cidr.base)}/${cidr.prefix}`;
}

/** Number of addresses in a block of this prefix length. */
export function blockSize(prefix: number): number {
  return 2 ** (32 - prefix);
}

export function contains(cidr: Cidr, address: number): boolean {
  return address >= cidr.base && address < cidr.base + blockSize(cidr.prefix);
}

/** The index-th sub-block of length `prefix` inside `pool`; null past the end. */
export function subBlock(pool: Cidr, prefix: number, index: number): Cidr | null {
  if (prefix < pool.prefix || index < 0) return null;
  if (index >= blockSize(pool.prefix) / blockSize(prefix)) return null;
  return { base: pool.base + index * blockSize(prefix), prefix };
}

/** How many sub-blocks of length `prefix` fit into `pool`. */
export function subBlockCount(pool: Cidr, prefix: number): number {
  return prefix < pool.prefix ? 0 : blockSize(pool.prefix) / blockSize(prefix);
}

/** The dotted-quad netmask of a prefix length: 24 → "255.255.255.0" (as OpenVPN and conntrack take it). */
export function netmask(prefix: number): string {
  return formatIpv4(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
}

/**
 * The prefix length of a dotted-quad netmask: "255.255.255.0" → 24. Null for anything else:
 * not an address, or one-bits not contiguous from the left (255.0.255.0), which no prefix length
 * describes (OpenVPN's `route`, RFC 4632 §3.1).
 */
export function prefixOfNetmask(mask: string): number | null {
  for (let prefix = 0; prefix <= 32; prefix++) if (netmask(prefix) === mask) return prefix;
  return null;
}
