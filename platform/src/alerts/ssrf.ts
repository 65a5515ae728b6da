// Where a webhook may point: https:// (http:// only where private targets are allowed, i.e. labs)
// to a host whose every address is public. Every special-purpose address (RFC 6890 and its
// successors, as ipaddr.js classifies them) is refused unless MEETPOINT_WEBHOOK_ALLOW_PRIVATE is
// on: loopback, link-local (cloud metadata at 169.254.169.254), private, shared (100.64/10),
// benchmarking, reserved, and the IPv6 forms that embed an IPv4 address (mapped, NAT64, 6to4,
// Teredo). The name is resolved once; the delivery connects to the address that was checked
// (no second lookup a rebinding DNS server could answer differently).
import { lookup } from "node:dns/promises";
import ipaddr from "ipaddr.js";
import { ValidationError } from "../shared/index.ts";

/** Words for ipaddr.js's range names where its own name would puzzle an administrator. */
const RANGE_WORDS: Record<string, string> = {
  linkLocal: "link-local",
  uniqueLocal: "private (unique local)",
  carrierGradeNat: "shared (carrier-grade NAT)",
  ipv4Mapped: "IPv4-mapped",
  rfc6052: "NAT64 (IPv4-embedding)",
  rfc6145: "IPv4-translated",
  "6to4": "6to4 (IPv4-embedding)",
  teredo: "Teredo (IPv4-embedding)",
  deprecatedSiteLocal: "site-local",
};

const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR("2000::/3");

/**
 * The special-purpose range an address is in (in words), or null for a public unicast address.
 * IPv6 outside 2000::/3 (the only block IANA allocates for global unicast) counts as special too:
 * ipaddr.js calls e.g. the deprecated IPv4-compatible ::7f00:1 "unicast".
 */
export function specialRange(address: string): string | null {
  if (!ipaddr.isValid(address)) return "not an IP address";
  const parsed = ipaddr.parse(address);
  const range = parsed.range();
  if (range !== "unicast") return RANGE_WORDS[range] ?? range;
  if (parsed.kind() === "ipv6" && !parsed.match(GLOBAL_UNICAST_V6))
    return "not global unicast (outside 2000::/3)";
  return null;
}

export type Resolver = (host: string) => Promise<string[]>;

export const systemResolver: Resolver = async (host) =>
  (await lookup(host, { all: true })).map((a) => a.address);

/** A checked webhook target: the URL, and the address the delivery must connect to. */
export interface WebhookTarget {
  url: URL;
  /** The address that was checked (the URL's own, or the first its name resolved to). */
  address: string;
}

/**
 * Throws a ValidationError (field "target") unless `url` may receive webhooks: checked when a
 * subscription is made and again before every delivery (the name may point elsewhere by then).
 * Resolves the name once, also where private targets are allowed, so the delivery connects to
 * the very address checked here.
 */
export async function checkWebhookTarget(
  url: string,
  allowPrivate: boolean,
  resolve: Resolver = systemResolver,
): Promise<WebhookTarget> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ValidationError(
      "target",
      "must be a URL such as https://hooks.example.com/meetpoint",
    );
  }
  if (parsed.protocol !== "https:" && !(allowPrivate && parsed.protocol === "http:"))
    throw new ValidationError("target", "must be an https:// URL");
  if (parsed.username || parsed.password)
    throw new ValidationError("target", "must not carry a user name or password");
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  let addresses: string[];
  try {
    addresses = ipaddr.isValid(host) ? [host] : await resolve(host);
  } catch {
    throw new ValidationError("target", `the host ${host} cannot be resolved`);
  }
  const [first] = addresses;
  if (!first) throw new ValidationError("target", `the host ${host} has no address`);
  if (!allowPrivate)
    for (const address of addresses) {
      const range = specialRange(address);
      if (range)
        throw new ValidationError(
          "target",
          `${host} has the address ${address}, which is special-purpose (${range}): refused, it could reach the platform's own network (MEETPOINT_WEBHOOK_ALLOW_PRIVATE)`,
        );
    }
  return { url: parsed, address: first };
}

/** checkWebhookTarget() for callers that need only the URL (a subscription being made). */
export async function checkWebhookUrl(
  url: string,
  allowPrivate: boolean,
  resolve: Resolver = systemResolver,
): Promise<URL> {
  return (await checkWebhookTarget(url, allowPrivate, resolve)).url;
}
