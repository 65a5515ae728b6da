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

/**
 * True when every dot-separated label of `text` is decimal, octal (leading 0) or 0x-hex: a form
 * inet_aton() and many resolvers read as an IPv4 address ("127.1", "0x7f.0x1", "0177.0.0.1",
 * "2130706433"), so a "host name" that would bypass the address checks.
 */
export function isNumericLookingHost(text: string): boolean {
  if (parseNetwork(text)) return false;
  const labels = text.replace(/\.$/, "").split(".");
  return labels.length > 0 && labels.every((l) => /^(0x[0-9a-f]*|[0-9]+)$/i.test(l));
}

/** Message for a numeric-looking host name (see isNumericLookingHost). */
export const NUMERIC_HOST_MESSAGE =
  "looks like an IPv4 address in a shortened, octal or hex form (a resolver reads it as an address): write the address in dotted decimal, or a DNS name";

/** A DNS host name (RFC 1123 labels, at most 253 characters, not all-numeric, no inet_aton form). */
export function isHostName(text: string): boolean {
  if (text.length === 0 || text.length > 253) return false;
  const labels = text.replace(/\.$/, "").split(".");
  return (
    labels.every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l)) &&
    !/^[0-9]+$/.test(labels.at(-1) ?? "") &&
    !isNumericLookingHost(text)
  );
}

/** An IP address (v4 or v6, no prefix) or a DNS name: a VPN peer. */
export function isHostOrAddress(text: string): boolean {
  const network = parseNetwork(text);
  if (network) return network.prefix === (network.family === 4 ? 32 : 128);
  return isHostName(text);
}

/** A pool setting read from the environment at call time, with the platform's default. */
function poolSetting(name: string, fallback: string): Network {
  const text = process.env[name] || fallback;
  const n = parseNetwork(text.trim());
  if (!n) throw new Error(`${name}: "${text}" is not a CIDR`);
  return n;
}

/**
 * Networks the platform keeps for itself: a workspace's allow-list and VPN peers may not reach
 * them. Operator setting MEETPOINT_WORKSPACE_FORBIDDEN_NETWORKS, comma-separated CIDRs; default
 * 172.16.0.0/12 (Docker's default bridge pools) and 198.19.0.0/16 (the platform's pinned Docker
 * networks here). The platform's own tunnel pool (MEETPOINT_TUNNEL_POOL, default 100.127.0.0/16),
 * proxy pool (MEETPOINT_PROXY_POOL, default 100.64.0.0/10) and workspace network pool
 * (MEETPOINT_WORKSPACE_NETWORK_POOL, default 198.19.232.0/21: each network's gateway is the
 * workspace host, where the platform's HTTPS listens) are always added: on a shared host those
 * addresses are local delivery into the platform. Read at each call, like config.ts reads the same
 * variables; throws on a malformed entry.
 */
export function forbiddenNetworks(): Network[] {
  const text = process.env.MEETPOINT_WORKSPACE_FORBIDDEN_NETWORKS ?? "172.16.0.0/12,198.19.0.0/16";
  const configured = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const n = parseNetwork(s);
      if (!n) throw new Error(`MEETPOINT_WORKSPACE_FORBIDDEN_NETWORKS: "${s}" is not a CIDR`);
      return n;
    });
  return [
    ...configured,
    poolSetting("MEETPOINT_TUNNEL_POOL", "100.127.0.0/16"),
    poolSetting("MEETPOINT_PROXY_POOL", "100.64.0.0/10"),
    poolSetting("MEETPOINT_WORKSPACE_NETWORK_POOL", "198.19.232.0/21"),
  ];
}

function bitsOf(n: Network): bigint {
  return n.family === 4 ? ipv4Bits(n.address) : ipv6Bits(n.address);
}

/** True for 0.0.0.0 and :: (in any spelling, with any prefix: all bits zero). */
export function isUnspecified(n: Network): boolean {
  return bitsOf(n) === 0n;
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
  ["::/96", "is an IPv4-compatible address (deprecated; it embeds an IPv4 address)"],
  ["64:ff9b::/96", "is NAT64 (it embeds an IPv4 address the translator would reach)"],
  ["64:ff9b:1::/48", "is local-use NAT64 (it embeds an IPv4 address)"],
  ["2002::/16", "is 6to4 (it embeds an IPv4 address the relay would reach)"],
  ["2001::/32", "is Teredo (it embeds an IPv4 address)"],
  ["fe80::/10", "is link-local"],
  ["ff00::/8", "is multicast"],
];

/** ::ffff:0:0/96, IPv4-mapped IPv6 addresses. */
const MAPPED: Network = { family: 6, address: "::ffff:0:0", prefix: 96 };

/**
 * The IPv4 network an IPv4-mapped IPv6 network (within ::ffff:0:0/96, any spelling) stands for;
 * any other network as it is.
 */
export function unmapped(network: Network): Network {
  if (network.family !== 6 || network.prefix < 96 || !overlaps(network, MAPPED)) return network;
  const bits = ipv6Bits(network.address) & 0xffffffffn;
  const v4 = [24n, 16n, 8n, 0n].map((s) => Number((bits >> s) & 255n)).join(".");
  return { family: 4, address: v4, prefix: network.prefix - 96 };
}

/**
 * Why a workspace may not reach `network` (null when it may): catch-alls (shorter than /8 IPv4
 * or /16 IPv6), unspecified, loopback, link-local, multicast/broadcast, networks overlapping
 * forbiddenNetworks(); IPv6 forms that embed IPv4 (NAT64, 6to4, Teredo, IPv4-compatible) are
 * refused outright, IPv4-mapped ones (::ffff:a.b.c.d in any spelling, judged by their bits) are
 * checked as the IPv4 network they map to.
 */
export function destinationRefusal(network: Network): string | null {
  if (network.family === 6 && network.prefix < 16)
    return "is a catch-all: an allow-list that opens everything is not one";
  if (network.family === 6 && overlaps(network, MAPPED) && network.prefix < 96)
    return "covers IPv4-mapped addresses (::ffff:0:0/96)";
  const n = unmapped(network);
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
  if (isNumericLookingHost(host)) return NUMERIC_HOST_MESSAGE;
  const name = host.replace(/\.$/, "").toLowerCase();
  if (!name.includes(".")) return "must be a fully-qualified DNS name (a bare name is internal)";
  if (/\.(local|internal|localhost|localdomain)$/.test(name) || name === "localhost")
    return "is an internal name";
  return null;
}
