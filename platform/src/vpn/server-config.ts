// The OpenVPN server configuration, rendered from data. The platform starts one server per
// instance (TCP 443 by default, more ports or UDP to use more cores) and controls each only through
// its management socket: every client connection waits for the platform's answer.
import { type Cidr, DATA_CIPHERS, formatIpv4, netmask, parseIpv4 } from "@meetpoint/common";
import type { ServerInstance } from "../sessions/index.ts";

export type { ServerInstance } from "../sessions/index.ts";

export interface ServerFiles {
  ca: string;
  crl: string;
  tlsCrypt: string;
  certificate: string;
  privateKey: string;
  managementSocket: string;
  /** openvpn writes its pid here, so a platform that crashed leaves no unknown server behind. */
  pidFile: string;
}

export interface ServerSettings {
  instance: ServerInstance;
  files: ServerFiles;
  /** The proxy address pool: routed into the tunnel; each gateway's block via its iroute. */
  proxyPool: Cidr;
  maxClients: number;
  /** reneg-sec: how often each tunnel's keys are renewed (a TLS renegotiation); default 3600. */
  renegotiateSeconds?: number;
}

export const MINIMUM_OPENVPN = [2, 6, 11] as const;

export function deviceName(index: number): string {
  return `meetpoint-vpn${index}`;
}

const PATH = /^\/[A-Za-z0-9._/-]+$/;

/** The server's own tunnel address: the first host address of its network. */
export function serverTunnelAddress(instance: ServerInstance): string {
  return formatIpv4(instance.tunnelNetwork.base + 1);
}

/** The config file's text. Paths and addresses are checked; nothing else is variable. */
export function renderServerConfig(settings: ServerSettings): string {
  const { instance, files } = settings;
  for (const [name, path] of Object.entries(files)) {
    if (!PATH.test(path))
      throw new Error(`server config: ${name} path ${path} is not a plain absolute path`);
  }
  if (instance.listenAddress !== null && parseIpv4(instance.listenAddress) === null) {
    throw new Error(`server config: bad listen address ${instance.listenAddress}`);
  }
  if (!Number.isInteger(instance.port) || instance.port < 1 || instance.port > 65535)
    throw new Error("server config: bad port");
  const lines = [
    "# Written by the Meetpoint platform at every start; changes here are lost.",
    "mode server",
    "tls-server",
    `proto ${instance.protocol === "tcp" ? "tcp-server" : "udp"}`,
    ...(instance.listenAddress ? [`local ${instance.listenAddress}`] : []),
    `port ${instance.port}`,
    `dev ${deviceName(instance.index)}`,
    "dev-type tun",
    "topology subnet",
    `ifconfig ${serverTunnelAddress(instance)} ${netmask(instance.tunnelNetwork.prefix)}`,
    'push "topology subnet"',
    // The routes in a client's profile (proxy addresses) go via the server's tunnel address.
    `push "route-gateway ${serverTunnelAddress(instance)}"`,

    `max-clients ${settings.maxClients}`,
    `ca ${files.ca}`,
    `cert ${files.certificate}`,
    `key ${files.privateKey}`,
    "dh none",
    `tls-crypt ${files.tlsCrypt}`,
    `crl-verify ${files.crl}`,
    "remote-cert-tls client",
    "tls-version-min 1.2",
    `data-ciphers ${DATA_CIPHERS}`,
    "script-security 1",
    `management ${files.managementSocket} unix`,
    "management-client-auth",
    // Clients prove who they are with their one-time certificate alone; no password is asked for.
    "auth-user-pass-optional",

    "management-hold",
    "keepalive 10 60",
    // Client certificates live until their session's end, so renegotiations keep working.
    `reneg-sec ${settings.renegotiateSeconds ?? 3600}`,
    "persist-key",
    `writepid ${files.pidFile}`,
    "verb 3",

    ...(instance.protocol === "udp" ? ["explicit-exit-notify 1"] : []),
  ];
  return `${lines.join("\n")}\n`;
}

/** Parses `openvpn --version` output; null when it is not OpenVPN's. */
export function parseOpenvpnVersion(output: string): [number, number, number] | null {
  const match = output.match(/^OpenVPN (\d+)\.(\d+)\.(\d+)/m);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : null;
}

/** Whether `version` is at least MINIMUM_OPENVPN. */
export function supportedVersion(version: [number, number, number]): boolean {
  for (let i = 0; i < 3; i++) {
    const have = version[i] ?? 0;
    const need = MINIMUM_OPENVPN[i] ?? 0;
    if (have !== need) return have > need;
  }
  return true;
}
