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

/**
 * Networks the platform keeps for itself (its Docker networks, its services): a workspace's
 * allow-list and VPN peers may not reach them. Operator setting MEETPOINT_WORKSPACE_FORBIDDEN_NETWORKS,
 * comma-separated CIDRs; default 172.16.0.0/12 (Docker's default bridge pools) and 198.19.0.0/16
 * (the platform's pinned Docker networks here). Read at each call; throws on a malformed entry.
 */
export function forbiddenNetworks(): Network[] {
  const text = process.env.MEETPOINT_WORKSPACE_FORBIDDEN_NETWORKS ?? "172.16.0.0/12,198.19.0.0/16";
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const n = parseNetwork(s);
      if (!n) throw new Error(`MEETPOINT_WORKSPACE_FORBIDDEN_NETWORKS: "${s}" is not a CIDR`);
      return n;
    });
}

function bitsOf(n: Network): bigint {
  return n.family === 4 ? ipv4Bits(n.address) : ipv6Bits(n.address);
}

/** True when a and b (same family) share any address. */
function overlaps(a: Network, b: Network): boolean {
  if (a.family !== b.family) return false;
  const max = a.family === 4 ? 32 : 128;
  const prefix = Math.min(a.prefix, b.prefix);
  const shift = BigInt(max - prefix);
  return bitsOf(a) >> shift === bitsOf(b) >> shift;
}

const V4_REFUSED: [string, string][] = [
  ["0.0.0.0/8", 'is the unspecified/"this" network'],
  ["127.0.0.0/8", "is loopback (the workspace's host)"],
  ["169.254.0.0/16", "is link-local (cloud metadata, the host)"],
  ["224.0.0.0/4", "is multicast"],
  ["240.0.0.0/4", "is reserved/broadcast"],
];
const V6_REFUSED: [string, string][] = [
  ["::/128", "is the unspecified address"],
  ["::1/128", "is loopback (the workspace's host)"],
  ["fe80::/10", "is link-local"],
  ["ff00::/8", "is multicast"],
];

/**
 * Why a workspace may not reach `network` (null when it may): catch-alls (shorter than /8 IPv4
 * or /16 IPv6), unspecified, loopback, link-local, multicast/broadcast, IPv4-mapped forms of
 * those, and networks overlapping forbiddenNetworks().
 */
export function destinationRefusal(network: Network): string | null {
  let n = network;
  const mapped = n.family === 6 && n.prefix >= 96 ? n.address.match(/^::ffff:(.+)$/i)?.[1] : null;
  if (mapped) {
    const bits = ipv6Bits(n.address) & 0xffffffffn;
    const v4 = [24n, 16n, 8n, 0n].map((s) => Number((bits >> s) & 255n)).join(".");
    n = { family: 4, address: v4, prefix: n.prefix - 96 };
  }
  if (n.family === 4 ? n.prefix < 8 : n.prefix < 16)
    return "is a catch-all: an allow-list that opens everything is not one";
  for (const [cidr, why] of n.family === 4 ? V4_REFUSED : V6_REFUSED) {
    const refused = parseNetwork(cidr);
    if (refused && overlaps(n, refused)) return why;
  }
  for (const f of forbiddenNetworks())
    if (overlaps(n, f))
      return `overlaps ${networkText(f)}, a network the platform keeps for itself`;
  return null;
}

/**
 * Why a VPN peer (an IP address or DNS name) is refused, or null: addresses as destinationRefusal;
 * names must be fully qualified (contain a dot) and not end in .local, .internal, .localhost or
 * .localdomain (the platform's DNS would resolve those to internal addresses).
 */
export function endpointRefusal(host: string): string | null {
  const network = parseNetwork(host);
  if (network) return destinationRefusal(network);
  const name = host.replace(/\.$/, "").toLowerCase();
  if (!name.includes(".")) return "must be a fully-qualified DNS name (a bare name is internal)";
  if (/\.(local|internal|localhost|localdomain)$/.test(name) || name === "localhost")
    return "is an internal name";
  return null;
}
