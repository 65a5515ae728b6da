// Where a webhook may point: https:// (http:// only where private targets are allowed, i.e. labs)
// to a host whose every address is public. Loopback, link-local (cloud metadata at 169.254.169.254),
// private, shared (100.64/10), multicast and unspecified addresses are refused unless
// MEETPOINT_WEBHOOK_ALLOW_PRIVATE is on (RFC 6890 special-purpose ranges).
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { ValidationError } from "../shared/index.ts";

/** The special-purpose range an address is in, or null for a public address. */
export function specialRange(address: string): string | null {
  const v4 = address.replace(/^::ffff:/i, "");
  if (isIP(v4) === 4) {
    const [a = 0, b = 0] = v4.split(".").map(Number);
    if (a === 127) return "loopback";
    if (a === 169 && b === 254) return "link-local";
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "private";
    if (a === 100 && b >= 64 && b <= 127) return "shared (carrier-grade NAT)";
    if (a === 0) return "unspecified";
    if (a >= 224) return "multicast or reserved";
    return null;
  }
  const v6 = address.toLowerCase();
  if (v6 === "::1") return "loopback";
  if (v6 === "::") return "unspecified";
  if (/^fe[89ab]/.test(v6)) return "link-local";
  if (/^f[cd]/.test(v6)) return "private (unique local)";
  if (/^ff/.test(v6)) return "multicast";
  return null;
}

export type Resolver = (host: string) => Promise<string[]>;

export const systemResolver: Resolver = async (host) =>
  (await lookup(host, { all: true })).map((a) => a.address);

/**
 * Throws a ValidationError (field "target") unless `url` may receive webhooks: checked when a
 * subscription is made and again before every delivery (the name may point elsewhere by then).
 */
export async function checkWebhookUrl(
  url: string,
  allowPrivate: boolean,
  resolve: Resolver = systemResolver,
): Promise<URL> {
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
  if (allowPrivate) return parsed;
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : await resolve(host);
  } catch {
    throw new ValidationError("target", `the host ${host} cannot be resolved`);
  }
  for (const address of addresses) {
    const range = specialRange(address);
    if (range)
      throw new ValidationError(
        "target",
        `${host} is a ${range} address (${address}): refused, it could reach the platform's own network (MEETPOINT_WEBHOOK_ALLOW_PRIVATE)`,
      );
  }
  return parsed;
}
