// IPv4/IPv6 addresses, CIDRs and DNS names as workspace settings accept them: strict, canonical.
import { isIP } from "node:net";

/** A parsed address or network: family 4 or 6, the address text as given, the prefix length. */
export interface Network {
  family: 4 | 6;
  address: string;
  prefix: number;
}

function ipv4Bits(address: string): bigint {
  return address.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function ipv6Bits(address: string): bigint {
  let text = address;
  // An embedded IPv4 tail (::ffff:192.0.2.1) becomes two hex groups.
  const v4 = text.match(/(\d+\.\d+\.\d+\.\d+)$/)?.[1];
  if (v4) {
    const bits = ipv4Bits(v4);
    text = `${text.slice(0, -v4.length)}${(bits >> 16n).toString(16)}:${(bits & 0xffffn).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail ? tail.split(":") : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = [
    ...headGroups,
    ...Array(tail === undefined ? 0 : missing).fill("0"),
    ...tailGroups,
  ];
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(Number.parseInt(group, 16)), 0n);
}

/**
 * Parses "192.0.2.1", "192.0.2.0/24", "2001:db8::/32" (no zone ids, no leading zeros in IPv4,
 * host bits must be zero); null when it is none of those.
 */
export function parseNetwork(text: string): Network | null {
  if (text.length > 64 || !/^[0-9A-Fa-f:./]+$/.test(text)) return null;
  const [address = "", prefixText, extra] = text.split("/");
  if (extra !== undefined) return null;
  const family = isIP(address);
  if (family !== 4 && family !== 6) return null;
  if (family === 4 && address.split(".").some((p) => p.length > 1 && p.startsWith("0")))
    return null;
  const max = family === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^(0|[1-9]\d{0,2})$/.test(prefixText)) return null;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return null;
  const bits = family === 4 ? ipv4Bits(address) : ipv6Bits(address);
  const hostMask = (1n << BigInt(max - prefix)) - 1n;
  if ((bits & hostMask) !== 0n) return null;
  return { family, address: address.toLowerCase(), prefix };
}

/** The network as nft and swanctl write it: the bare address for a host, else address/prefix. */
export function networkText(network: Network): string {
  const max = network.family === 4 ? 32 : 128;
  return network.prefix === max ? network.address : `${network.address}/${network.prefix}`;
}

/** A DNS host name (RFC 1123 labels, at most 253 characters, not all-numeric). */
export function isHostName(text: string): boolean {
  if (text.length === 0 || text.length > 253) return false;
  const labels = text.replace(/\.$/, "").split(".");
  return (
    labels.every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l)) &&
    !/^[0-9]+$/.test(labels.at(-1) ?? "")
  );
}

/** An IP address (v4 or v6, no prefix) or a DNS name: a VPN peer. */
export function isHostOrAddress(text: string): boolean {
  const network = parseNetwork(text);
  if (network) return network.prefix === (network.family === 4 ? 32 : 128);
  return isHostName(text);
}
