// An HTTP proxy as a plant's IT names it: host, port and optional Basic credentials. Both channels
// of a gateway use the same one (the control channel through HTTP CONNECT, RFC 9110 §9.3.6, formerly
// RFC 7231 §4.3.6; OpenVPN through `http-proxy`, openvpn(8)), and a technician's .ovpn may name one.
// Every field is checked here, once, for every side: a value that could carry a second directive
// or header never gets further.
import { parseIpv4 } from "./ipv4.ts";

export interface HttpProxy {
  /** DNS name or IPv4 address, no scheme, no port. */
  host: string;
  /** TCP port, 1-65535. */
  port: number;
  /** Basic credentials (RFC 7617), or null when the proxy asks for none. */
  username: string | null;
  password: string | null;
}

/** A refused field: which one (`host`, `port`, `username`, `password`) and why. */
export type ProxyFieldError = { ok: false; field: keyof HttpProxy; message: string };

export const DNS_NAME =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const PRINTABLE = /^[\x21-\x7e]{1,128}$/;

/** A proxy host: a DNS name or an IPv4 address, or the reason it is not. */
export function checkProxyHost(text: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text))
    return "a host name or IPv4 address without a scheme (no http://)";
  if (/\s/.test(text)) return "a host name or IPv4 address without spaces or line breaks";
  if (text.includes(":"))
    return "a host name or IPv4 address without a port (the port has its own field)";
  if (parseIpv4(text) === null && !DNS_NAME.test(text))
    return "a host name or IPv4 address (letters, digits, dots and hyphens)";
  return null;
}

/** A proxy port from text or a number, or null when it is not 1-65535. */
export function parseProxyPort(value: string | number): number | null {
  const text = String(value).trim();
  if (!/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

/**
 * Checks a proxy as entered (form fields, environment, enrollment bundle). Empty username and
 * password mean none; a password needs a username. Errors name the field.
 */
export function checkHttpProxy(input: {
  host: string;
  port: string | number;
  username?: string | null;
  password?: string | null;
}): { ok: true; proxy: HttpProxy } | ProxyFieldError {
  const host = input.host.trim();
  const hostError = checkProxyHost(host);
  if (hostError) return { ok: false, field: "host", message: `must be ${hostError}` };
  const port = parseProxyPort(input.port);
  if (port === null) return { ok: false, field: "port", message: "must be a port, 1-65535" };
  const username = input.username ? input.username : null;
  const password = input.password ? input.password : null;
  if (username !== null && (!PRINTABLE.test(username) || username.includes(":")))
    return {
      ok: false,
      field: "username",
      message: "must be 1-128 printable characters without spaces or a colon (RFC 7617)",
    };
  if (password !== null && !/^[\x20-\x7e]{1,256}$/.test(password))
    return { ok: false, field: "password", message: "must be 1-256 printable characters" };
  if (password !== null && username === null)
    return { ok: false, field: "username", message: "is needed with a password" };
  return { ok: true, proxy: { host: host.toLowerCase(), port, username, password } };
}

/** "host:port" — what a proxy is called in messages (never with its credentials). */
export function proxyName(proxy: Pick<HttpProxy, "host" | "port">): string {
  return `${proxy.host}:${proxy.port}`;
}

/** The Proxy-Authorization header's value (Basic, RFC 7617), or null without credentials. */
export function proxyAuthorization(proxy: HttpProxy): string | null {
  if (proxy.username === null) return null;
  return `Basic ${Buffer.from(`${proxy.username}:${proxy.password ?? ""}`).toString("base64")}`;
}
