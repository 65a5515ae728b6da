// The source a client address is counted under, for throttles and lockouts: one party's share.
import ipaddr from "ipaddr.js";

/**
 * IPv4 as it is (IPv4-mapped IPv6 too), IPv6 by its /64 (one subscriber's prefix: RFC 6177
 * assigns at least that much to a site, so counting single addresses would let one party rotate
 * through 2^64 of them). Anything else (no socket, as in tests without one) as it is.
 */
export function sourceOf(ip: string): string {
  if (!ipaddr.isValid(ip)) return ip;
  const parsed = ipaddr.process(ip);
  if (parsed.kind() === "ipv4") return parsed.toString();
  const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4).map((p) => p.toString(16));
  return `${parts.join(":")}::/64`;
}
