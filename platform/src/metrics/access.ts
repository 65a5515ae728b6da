// Who may read /metrics: a bearer token (compared in constant time), or an address inside one of
// the configured networks. Neither configured: /metrics does not exist (404).
import { timingSafeEqual } from "node:crypto";
import { type Cidr, parseIpv4 } from "@meetpoint/common";

export interface MetricsAccess {
  token: string | null;
  networks: Cidr[];
}

export type MetricsVerdict = "allow" | "unauthorized" | "off";

function inNetwork(ip: string, network: Cidr): boolean {
  const address = parseIpv4(ip.replace(/^::ffff:/, ""));
  if (address === null) return false;
  const size = 2 ** (32 - network.prefix);
  return address >= network.base && address < network.base + size;
}

/** The verdict for a request from `ip` with `authorization` (the header, or null). */
export function metricsVerdict(
  access: MetricsAccess,
  ip: string,
  authorization: string | null,
): MetricsVerdict {
  if (!access.token && access.networks.length === 0) return "off";
  if (access.networks.some((n) => inNetwork(ip, n))) return "allow";
  if (access.token && authorization?.startsWith("Bearer ")) {
    const given = Buffer.from(authorization.slice(7));
    const expected = Buffer.from(access.token);
    if (given.length === expected.length && timingSafeEqual(given, expected)) return "allow";
  }
  return "unauthorized";
}
