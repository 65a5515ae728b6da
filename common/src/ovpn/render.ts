// The client connection profile (.ovpn): a fixed template, every field checked before it is written.
import { checkProxyHost, DNS_NAME, parseProxyPort } from "../net/http-proxy.ts";
import { parseIpv4 } from "../net/ipv4.ts";

export interface Remote {
  /** DNS name or IPv4 address of the platform's OpenVPN server. */
  host: string;
  port: number;
  protocol: "tcp" | "udp";
}

export interface ClientProfile {
  /** One to four servers, tried in order. */
  remotes: Remote[];
  /** Common name of the platform's OpenVPN server certificate (verify-x509-name). */
  serverName: string;
  /** The platform CA certificate(s), PEM. */
  caPem: string;
  certificatePem: string;
  /** PKCS#8 private key, PEM. */
  privateKeyPem: string;
  /** The tls-crypt key ("OpenVPN Static key V1"). */
  tlsCryptKey: string;
  /** Proxy addresses (IPv4) routed into the tunnel, each as a /32. */
  routes: string[];
  /**
   * An HTTP proxy the client reaches the server through (`http-proxy host port`, openvpn(8)): only
   * host and port — credentials stay with the technician's OpenVPN client, which asks for them.
   * Needs TCP remotes: OpenVPN tunnels only TCP through an HTTP proxy.
   */
  httpProxy?: { host: string; port: number } | null;
}

/** A field that must not be written into a profile; names the field. */
export class ProfileError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = "ProfileError";
  }
}

/** The only directives a rendered profile contains. */
export const CLIENT_DIRECTIVES = [
  "client",
  "dev",
  "nobind",
  "remote-cert-tls",
  "verify-x509-name",
  "tls-version-min",
  "data-ciphers",
  "script-security",
  "auth-nocache",
  "connect-retry-max",
  "verb",
  "remote",
  "route",
  "http-proxy",
] as const;

/** The only inline blocks a rendered profile contains. */
export const CLIENT_BLOCKS = ["ca", "cert", "key", "tls-crypt"] as const;

/** AEAD ciphers only: no CBC, no static-key data channel. */
export const DATA_CIPHERS = "AES-256-GCM:CHACHA20-POLY1305";

const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const PEM_BLOCK = (label: string) =>
  `-----BEGIN ${label}-----\\n(?:[A-Za-z0-9+/=]{1,76}\\n)+-----END ${label}-----\\n`;
const CERTIFICATES = new RegExp(`^(?:${PEM_BLOCK("CERTIFICATE")})+$`);
const CERTIFICATE = new RegExp(`^${PEM_BLOCK("CERTIFICATE")}$`);
const PRIVATE_KEY = new RegExp(`^${PEM_BLOCK("PRIVATE KEY")}$`);
const STATIC_KEY =
  /^-----BEGIN OpenVPN Static key V1-----\n(?:[0-9a-f]{32}\n){16}-----END OpenVPN Static key V1-----\n$/;

function withNewline(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}

function check(field: string, ok: boolean, message: string): void {
  if (!ok) throw new ProfileError(field, message);
}

/**
 * Renders a client profile. Every value is checked against a strict pattern first, so nothing a
 * user typed (names, reasons) can reach the file and no value can start a new directive.
 */
export function renderClientProfile(profile: ClientProfile): string {
  check(
    "remotes",
    profile.remotes.length >= 1 && profile.remotes.length <= 4,
    "one to four servers",
  );
  profile.remotes.forEach((remote, i) => {
    check(
      `remotes.${i}.host`,
      parseIpv4(remote.host) !== null || DNS_NAME.test(remote.host),
      "not a host name or IPv4 address",
    );
    check(
      `remotes.${i}.port`,
      Number.isInteger(remote.port) && remote.port >= 1 && remote.port <= 65535,
      "not a port",
    );
    check(
      `remotes.${i}.protocol`,
      remote.protocol === "tcp" || remote.protocol === "udp",
      "must be tcp or udp",
    );
  });
  check("serverName", SERVER_NAME.test(profile.serverName), "not a certificate name");
  const httpProxy = profile.httpProxy ?? null;
  if (httpProxy) {
    const hostError = checkProxyHost(httpProxy.host);
    check("httpProxy.host", hostError === null, `must be ${hostError}`);
    check("httpProxy.port", parseProxyPort(httpProxy.port) === httpProxy.port, "not a port");
    check(
      "httpProxy",
      profile.remotes.every((r) => r.protocol === "tcp"),
      "an HTTP proxy carries OpenVPN over TCP only, and this server uses UDP",
    );
  }
  const caPem = withNewline(profile.caPem);
  const certificatePem = withNewline(profile.certificatePem);
  const privateKeyPem = withNewline(profile.privateKeyPem);
  const tlsCryptKey = withNewline(profile.tlsCryptKey);
  check("caPem", CERTIFICATES.test(caPem), "not PEM certificates");
  check("certificatePem", CERTIFICATE.test(certificatePem), "not one PEM certificate");
  check("privateKeyPem", PRIVATE_KEY.test(privateKeyPem), "not a PEM PKCS#8 private key");
  check("tlsCryptKey", STATIC_KEY.test(tlsCryptKey), "not an OpenVPN static key");
  check("routes", profile.routes.length <= 1024, "too many routes");
  profile.routes.forEach((route, i) => {
    check(`routes.${i}`, parseIpv4(route) !== null, "not an IPv4 address");
  });

  const lines = [
    "# Meetpoint connection profile: valid for one connection, then worthless.",
    "client",
    "dev tun",
    "nobind",
    "remote-cert-tls server",
    `verify-x509-name ${profile.serverName} name`,
    "tls-version-min 1.2",
    `data-ciphers ${DATA_CIPHERS}`,
    "script-security 1",
    "auth-nocache",
    "connect-retry-max 1",
    "verb 3",
    ...profile.remotes.map(
      (r) => `remote ${r.host} ${r.port} ${r.protocol === "tcp" ? "tcp-client" : "udp"}`,
    ),
    ...(httpProxy ? [`http-proxy ${httpProxy.host} ${httpProxy.port}`] : []),
    ...profile.routes.map((address) => `route ${address} 255.255.255.255`),
    `<ca>\n${caPem}</ca>`,
    `<cert>\n${certificatePem}</cert>`,
    `<key>\n${privateKeyPem}</key>`,
    `<tls-crypt>\n${tlsCryptKey}</tls-crypt>`,
  ];
  return `${lines.join("\n")}\n`;
}
