// The platform's configuration: read from the environment once, at the entry point, and validated.
import { type Cidr, ConfigError, parseCidr } from "@meetpoint/common";

/** Every variable the platform reads, with its default and meaning. The README's table is this list. */
export const VARIABLES = {
  DATABASE_URL:
    "PostgreSQL connection URL (postgres://user:pass@host/db). Unset: embedded PGlite in MEETPOINT_DATA_DIR.",
  MEETPOINT_DATA_DIR: "Directory for the embedded database and generated secrets. Default ./data.",
  MEETPOINT_PUBLIC_URL:
    "URL users and gateways reach the platform at. Default https://localhost:<MEETPOINT_HTTPS_PORT>.",
  MEETPOINT_HTTPS_PORT:
    "Port of the HTTPS server (portal, gateway API). Default 8443; 443 in production.",
  MEETPOINT_HTTP_PORT:
    "Port of the HTTP server that only redirects to HTTPS. Default 8080; 0 turns it off.",
  MEETPOINT_LISTEN_ADDRESS: "Address both servers bind to. Default 0.0.0.0.",
  MEETPOINT_TLS_CERT:
    "PEM certificate chain file for HTTPS. Unset: a development certificate from the platform CA.",
  MEETPOINT_TLS_KEY: "PEM private key file for MEETPOINT_TLS_CERT. Required with it.",
  MEETPOINT_KEK:
    "Key-encryption key for the CA private key: 32 bytes as 64 hex characters. Unset: MEETPOINT_KEK_FILE.",
  MEETPOINT_KEK_FILE:
    "File holding the key-encryption key. Default <data dir>/kek, created with mode 0600 when missing.",
  MEETPOINT_PROXY_POOL: "Pool of proxy addresses (CIDR) for machines. Default 100.64.0.0/10.",
  MEETPOINT_GATEWAY_BLOCK_PREFIX:
    "Prefix length of the proxy address block each gateway gets from the pool. Default 24 (254 machines).",
  MEETPOINT_TECHNICIAN_CERT_MINUTES:
    "How long a technician's one-time config can open its connection; its certificate then lives until the remote session's end. Default 10.",
  MEETPOINT_GATEWAY_CERT_MINUTES:
    "How long a gateway's one-time data-channel config can open its connection; its certificate then lives as long as the data channel. Default 10.",
  MEETPOINT_DATA_CHANNEL_MAX_HOURS:
    "A gateway's data channel is renewed after this many hours (the gateway connects a new one by itself within seconds; remote sessions through it end). Default 720 (30 days).",
  MEETPOINT_VPN_RENEGOTIATE_SECONDS:
    "The OpenVPN servers renew each tunnel's keys (a TLS renegotiation) this often. Default 3600.",
  MEETPOINT_CLOCK_SKEW_SECONDS:
    "Certificates start this many seconds in the past, for clocks that lag. Default 120.",
  MEETPOINT_ENROLLMENT_VALID_DAYS:
    "Days an enrollment bundle can be imported after it was issued. Default 7.",
  MEETPOINT_VPN_LISTEN:
    'OpenVPN servers, comma-separated "tcp:PORT" or "udp:PORT" (one process each). Default "tcp:443"; "off" runs no data plane.',
  MEETPOINT_VPN_HOST:
    "Host name technicians and gateways connect to for OpenVPN. Default the host of MEETPOINT_PUBLIC_URL.",
  MEETPOINT_TUNNEL_POOL:
    "Tunnel addresses of technicians and gateways (CIDR, /20 per OpenVPN server); kept out of the proxy pool. Default 100.127.0.0/16.",
  MEETPOINT_REMOTE_SESSION_MINUTES:
    "How long a remote session may last before it is cut. Default 60.",
  MEETPOINT_SESSION_IDLE_MINUTES: "Portal sign-in ends after this many idle minutes. Default 30.",
  MEETPOINT_SESSION_ABSOLUTE_HOURS:
    "Portal sign-in ends this many hours after sign-in. Default 12.",
  MEETPOINT_LOCAL_SIGN_IN:
    "on: local accounts (password + TOTP) may sign in beside the identity providers; off: providers only. Default on.",
} as const;

export type Variable = keyof typeof VARIABLES;

export interface Config {
  databaseUrl: string | null;
  dataDir: string;
  publicUrl: URL;
  httpsPort: number;
  httpPort: number;
  listenAddress: string;
  tls: { certFile: string; keyFile: string } | null;
  kek: { hex: string } | { file: string };
  proxyPool: Cidr;
  gatewayBlockPrefix: number;
  session: { idleMs: number; absoluteMs: number };
  certificates: CertificatePolicy;
  vpn: VpnConfig;
  enrollmentValidMs: number;
  localSignIn: boolean;
}

export interface VpnConfig {
  /** One OpenVPN server per entry; empty when the data plane is off by configuration. */
  listen: { protocol: "tcp" | "udp"; port: number }[];
  host: string;
  tunnelPool: Cidr;
  remoteSessionSeconds: number;
  /** OpenVPN's reneg-sec on the servers. */
  renegotiateSeconds: number;
}

/** Lifetimes of what the PKI issues, in seconds. */
export interface CertificatePolicy {
  /** How long a technician's one-time config may open its connection. */
  technicianSeconds: number;
  /** How long a gateway's one-time data-channel config may open its connection. */
  gatewaySeconds: number;
  /** How long a data channel (and its certificate) lives before the platform renews it. */
  dataChannelSeconds: number;
  clockSkewSeconds: number;
}

export { ConfigError };

type Env = Partial<Record<string, string | undefined>>;

function integer(env: Env, name: Variable, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}`);
  return value;
}

/** Reads and validates the configuration; throws ConfigError naming the variable at fault. */
export function readConfig(env: Env): Config {
  const dataDir = env.MEETPOINT_DATA_DIR || "./data";
  const httpsPort = integer(env, "MEETPOINT_HTTPS_PORT", 8443, 1, 65535);
  const httpPort = integer(env, "MEETPOINT_HTTP_PORT", 8080, 0, 65535);

  let publicUrl: URL;
  try {
    publicUrl = new URL(env.MEETPOINT_PUBLIC_URL || `https://localhost:${httpsPort}`);
  } catch {
    throw new ConfigError("MEETPOINT_PUBLIC_URL", "not a URL");
  }
  if (publicUrl.protocol !== "https:")
    throw new ConfigError("MEETPOINT_PUBLIC_URL", "must be https://");

  const databaseUrl = env.DATABASE_URL || null;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError("DATABASE_URL", "must start with postgres:// or postgresql://");
  }

  const certFile = env.MEETPOINT_TLS_CERT || null;
  const keyFile = env.MEETPOINT_TLS_KEY || null;
  if ((certFile === null) !== (keyFile === null)) {
    throw new ConfigError(
      certFile ? "MEETPOINT_TLS_KEY" : "MEETPOINT_TLS_CERT",
      "set both or neither",
    );
  }

  const kekHex = env.MEETPOINT_KEK || null;
  if (kekHex && !/^[0-9a-fA-F]{64}$/.test(kekHex)) {
    throw new ConfigError("MEETPOINT_KEK", "expected 64 hex characters (32 bytes)");
  }

  const proxyPool = parseCidr(env.MEETPOINT_PROXY_POOL || "100.64.0.0/10");
  if (!proxyPool)
    throw new ConfigError("MEETPOINT_PROXY_POOL", "expected a CIDR block such as 100.64.0.0/10");
  const gatewayBlockPrefix = integer(env, "MEETPOINT_GATEWAY_BLOCK_PREFIX", 24, 8, 30);
  if (gatewayBlockPrefix < proxyPool.prefix) {
    throw new ConfigError(
      "MEETPOINT_GATEWAY_BLOCK_PREFIX",
      "must not be shorter than the pool's prefix",
    );
  }

  return {
    databaseUrl,
    dataDir,
    publicUrl,
    httpsPort,
    httpPort,
    listenAddress: env.MEETPOINT_LISTEN_ADDRESS || "0.0.0.0",
    tls: certFile && keyFile ? { certFile, keyFile } : null,
    kek: kekHex
      ? { hex: kekHex.toLowerCase() }
      : { file: env.MEETPOINT_KEK_FILE || `${dataDir}/kek` },
    proxyPool,
    gatewayBlockPrefix,
    localSignIn: onOff(env, "MEETPOINT_LOCAL_SIGN_IN", true),
    session: {
      idleMs: integer(env, "MEETPOINT_SESSION_IDLE_MINUTES", 30, 1, 24 * 60) * 60_000,
      absoluteMs: integer(env, "MEETPOINT_SESSION_ABSOLUTE_HOURS", 12, 1, 24 * 30) * 3_600_000,
    },
    certificates: {
      technicianSeconds: integer(env, "MEETPOINT_TECHNICIAN_CERT_MINUTES", 10, 1, 24 * 60) * 60,
      gatewaySeconds: integer(env, "MEETPOINT_GATEWAY_CERT_MINUTES", 10, 1, 24 * 60) * 60,
      dataChannelSeconds: integer(env, "MEETPOINT_DATA_CHANNEL_MAX_HOURS", 720, 1, 24 * 365) * 3600,
      clockSkewSeconds: integer(env, "MEETPOINT_CLOCK_SKEW_SECONDS", 120, 0, 3600),
    },
    vpn: readVpn(env, publicUrl),
    enrollmentValidMs: integer(env, "MEETPOINT_ENROLLMENT_VALID_DAYS", 7, 1, 365) * 86_400_000,
  };
}

function readVpn(env: Env, publicUrl: URL): VpnConfig {
  const raw = (env.MEETPOINT_VPN_LISTEN || "tcp:443").trim();
  const listen: VpnConfig["listen"] = [];
  if (raw !== "off") {
    for (const item of raw.split(",")) {
      const match = item.trim().match(/^(tcp|udp):(\d{1,5})$/);
      const port = Number(match?.[2]);
      if (!match || port < 1 || port > 65535) {
        throw new ConfigError(
          "MEETPOINT_VPN_LISTEN",
          `"${item.trim()}" is not tcp:PORT or udp:PORT`,
        );
      }
      listen.push({ protocol: match[1] as "tcp" | "udp", port });
    }
    const keys = listen.map((l) => `${l.protocol}:${l.port}`);
    if (new Set(keys).size !== keys.length)
      throw new ConfigError("MEETPOINT_VPN_LISTEN", "a server is listed twice");
  }
  const host = env.MEETPOINT_VPN_HOST || publicUrl.hostname;
  if (!/^[A-Za-z0-9.-]{1,253}$/.test(host))
    throw new ConfigError("MEETPOINT_VPN_HOST", "not a host name or address");
  const tunnelPool = parseCidr(env.MEETPOINT_TUNNEL_POOL || "100.127.0.0/16");
  if (!tunnelPool || tunnelPool.prefix > 20) {
    throw new ConfigError(
      "MEETPOINT_TUNNEL_POOL",
      "expected a CIDR block of /20 or larger, such as 100.127.0.0/16",
    );
  }
  if (listen.length > 2 ** (20 - tunnelPool.prefix)) {
    throw new ConfigError(
      "MEETPOINT_TUNNEL_POOL",
      `too small for ${listen.length} OpenVPN servers (a /20 each)`,
    );
  }
  return {
    listen,
    host,
    tunnelPool,
    remoteSessionSeconds: integer(env, "MEETPOINT_REMOTE_SESSION_MINUTES", 60, 1, 24 * 60) * 60,
    renegotiateSeconds: integer(env, "MEETPOINT_VPN_RENEGOTIATE_SECONDS", 3600, 10, 86_400),
  };
}

function onOff(env: Env, name: Variable, fallback: boolean): boolean {
  const value = env[name];
  if (value === undefined || value === "") return fallback;
  if (value === "on") return true;
  if (value === "off") return false;
  throw new ConfigError(name, "must be on or off");
}
