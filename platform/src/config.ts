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
  MEETPOINT_SIEM_CONFIG:
    "JSON file with the SIEM's syslog destinations (docs/siem.example.json). Unset: no SIEM export.",
  MEETPOINT_METRICS_TOKEN:
    "Bearer token that /metrics (Prometheus) asks for. Unset and no MEETPOINT_METRICS_NETWORKS: /metrics answers 404.",
  MEETPOINT_METRICS_NETWORKS:
    "Comma-separated IPv4 CIDR blocks allowed to read /metrics without the token (e.g. 127.0.0.1/32,198.18.5.0/24).",
  MEETPOINT_RETENTION_DAYS:
    "Audit entries and ended sessions with their evidence are pruned after this many days. Default 550.",
  MEETPOINT_RECORDING_RETENTION_DAYS:
    "Recordings of browser connections to jump workspaces are deleted after this many days (by the daily retention job, audited). Default 550.",
  MEETPOINT_RECORDINGS_DIR:
    "Directory of the workspace recordings. Default <data dir>/recordings. Several instances: one directory all of them mount (shared storage), so any instance plays and prunes every recording.",
  MEETPOINT_WORKSPACE_BACKUPS_DIR:
    "Directory of the archives of workspace home volumes. Default <data dir>/workspace-backups. Several instances: one directory all of them mount (shared storage).",
  MEETPOINT_WORKSPACE_BACKUP_HOURS:
    "Hours between scheduled backups of every workspace's home volume. Default 24.",
  MEETPOINT_WORKSPACE_BACKUP_KEEP:
    "Backups kept per workspace (the newest; older ones are deleted after each scheduled run, audited). Default 7.",
  MEETPOINT_WORKSPACE_BACKUP_MAX_MIB:
    "Largest archive of one home volume, in MiB; a larger one fails (audited) and nothing is kept. Default 10240.",
  MEETPOINT_AUDIT_HEAD_FILE:
    "File the head of the audit chain is appended to, signed, on every export. Unset: the head goes only to the audit log (and so to the SIEM).",
  MEETPOINT_AUDIT_HEAD_EXPORT_HOURS: "Hours between exports of the audit chain's head. Default 24.",
  MEETPOINT_SMTP_URL:
    "Mail server for alerts, smtp://[user:password@]host[:port] (STARTTLS required) or smtps://. Unset: no email alerts.",
  MEETPOINT_SMTP_FROM:
    "Sender address of alert emails. Default meetpoint@<host of MEETPOINT_PUBLIC_URL>.",
  MEETPOINT_SMTP_CA:
    "PEM file of the CA that signed the mail server's certificate. Unset: the system's CAs.",
  MEETPOINT_WEBHOOK_ALLOW_PRIVATE:
    "on: alert webhooks may go to loopback, link-local and private addresses; off refuses them (SSRF). Default off.",
  MEETPOINT_GATEWAY_OFFLINE_MINUTES:
    "A gateway without a heartbeat for this many minutes counts as offline (audited, alerted). Default 10.",
  MEETPOINT_SIGN_IN_ALERT_FAILURES:
    "Failed sign-ins of one username or from one address within 10 minutes that raise an alert. Default 5.",
  MEETPOINT_API_TOKEN_MAX_DAYS: "Longest validity of an API token, in days. Default 365.",
  MEETPOINT_INSTANCE_ID:
    "This platform instance's name in the instance registry (several instances over one PostgreSQL): letters, digits, . _ - (up to 63). Default the host name.",
  MEETPOINT_CLOCK_SKEW_ALLOWANCE_MS:
    "Largest difference between this host's clock and the database's, in milliseconds, before the platform refuses to start. Default 2000.",
  MEETPOINT_WORKSPACE_DOCKER:
    "Docker Engines that run the jump workspaces, comma-separated (several: a start that fails on one goes to the next): unix:///path/to/docker.sock or tcp://host:2376 (TLS with client certificate, MEETPOINT_WORKSPACE_DOCKER_TLS_DIR required). Default unix:///var/run/docker.sock.",
  MEETPOINT_WORKSPACE_DOCKER_TLS_DIR:
    "Directory with ca.pem (the Docker hosts' CA), cert.pem and key.pem (the platform's client certificate) for the tcp:// endpoints of MEETPOINT_WORKSPACE_DOCKER (one directory for all of them).",
  MEETPOINT_WORKSPACE_START_SECONDS:
    "Seconds a workspace start may take until its desktop answers (the VNC handshake), per replica tried. Default 60.",
  MEETPOINT_WORKSPACE_NETWORK_POOL:
    "IPv4 block the per-customer workspace Docker networks are cut from (keep it out of Docker's own address pools and the proxy pool; a workspace may never reach it, whatever MEETPOINT_WORKSPACE_FORBIDDEN_NETWORKS says). Default 198.19.232.0/21.",
  MEETPOINT_WORKSPACE_NETWORK_PREFIX:
    "Prefix length of each workspace's network in the pool. Default 28 (128 networks in the default pool).",
  MEETPOINT_WORKSPACE_REPORT_URL:
    "Where a workspace's supervisor posts its state; {gateway} stands for the workspace network's gateway address (this host on that network). Default https://{gateway}:<MEETPOINT_HTTPS_PORT>/api/workspace/v1/report (the supervisor trusts the certificate the platform serves at the workspace's start).",
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
  operations: OperationsConfig;
  /** This instance among several over one PostgreSQL (instances/). */
  instance: {
    /** MEETPOINT_INSTANCE_ID; null: the host name. */
    id: string | null;
    /** Largest tolerated clock difference to the database, in milliseconds. */
    clockSkewAllowanceMs: number;
  };
  /** The Docker Engines the jump workspaces run on, in the configured order (workspaces/docker.ts). */
  workspaceDocker: DockerEndpoint[];
  /** How workspaces start (workspaces/runtime.ts). */
  workspaceRuntime: {
    /** Milliseconds a start may take until the desktop answers, per replica; default 60 000. */
    startMs: number;
    /** The block per-customer networks are cut from, and each network's prefix length. */
    networkPool: Cidr;
    networkPrefix: number;
    /** The supervisor's report URL; "{gateway}" is replaced by the network's gateway address. */
    reportUrl: string;
  };
}

/** A Docker Engine API endpoint: a Unix socket, or TCP with mutual TLS (never plain TCP). */
export type DockerEndpoint =
  | { kind: "socket"; socketPath: string }
  | { kind: "tls"; host: string; port: number; tlsDir: string };

/** SIEM export, metrics, retention, alerts and API tokens. */
export interface OperationsConfig {
  siemConfigFile: string | null;
  metrics: { token: string | null; networks: Cidr[] };
  retentionDays: number;
  /** Days a workspace connection's recording is kept; default 550. */
  recordingRetentionDays: number;
  /** Where recordings are written; null: <data dir>/recordings. Shared by all instances. */
  recordingsDir: string | null;
  /** Workspace home backups: directory (null: <data dir>/workspace-backups), interval, count kept, largest archive. */
  workspaceBackups: { dir: string | null; everyMs: number; keep: number; maxBytes: number };
  auditHead: { file: string | null; everyMs: number };
  smtp: { url: string; from: string; caFile: string | null } | null;
  webhookAllowPrivate: boolean;
  gatewayOfflineMs: number;
  signInAlertFailures: number;
  apiTokenMaxDays: number;
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
    operations: readOperations(env, publicUrl),
    instance: readInstance(env),
    workspaceDocker: readDockerEndpoints(env),
    workspaceRuntime: readWorkspaceRuntime(env, httpsPort),
  };
}

function readWorkspaceRuntime(env: Env, httpsPort: number): Config["workspaceRuntime"] {
  const networkPool = parseCidr(env.MEETPOINT_WORKSPACE_NETWORK_POOL || "198.19.232.0/21");
  if (!networkPool)
    throw new ConfigError("MEETPOINT_WORKSPACE_NETWORK_POOL", "expected an IPv4 CIDR block");
  const networkPrefix = integer(env, "MEETPOINT_WORKSPACE_NETWORK_PREFIX", 28, 16, 29);
  if (networkPrefix < networkPool.prefix)
    throw new ConfigError(
      "MEETPOINT_WORKSPACE_NETWORK_PREFIX",
      "must not be shorter than the pool's prefix",
    );
  const reportUrl =
    env.MEETPOINT_WORKSPACE_REPORT_URL || `https://{gateway}:${httpsPort}/api/workspace/v1/report`;
  let parsed: URL | null = null;
  try {
    parsed = new URL(reportUrl.replace("{gateway}", "192.0.2.1"));
  } catch {}
  if (!parsed || !/^https?:$/.test(parsed.protocol))
    throw new ConfigError("MEETPOINT_WORKSPACE_REPORT_URL", "expected an http(s) URL");
  return {
    startMs: integer(env, "MEETPOINT_WORKSPACE_START_SECONDS", 60, 5, 3600) * 1000,
    networkPool,
    networkPrefix,
    reportUrl,
  };
}

/** The endpoint as an operator writes it: "unix:///var/run/docker.sock", "tcp://host:2376". */
export function dockerEndpointText(endpoint: DockerEndpoint): string {
  if (endpoint.kind === "socket") return `unix://${endpoint.socketPath}`;
  return `tcp://${endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
}

function readDockerEndpoints(env: Env): DockerEndpoint[] {
  const text = env.MEETPOINT_WORKSPACE_DOCKER || "unix:///var/run/docker.sock";
  const endpoints = text.split(",").map((item) => readDockerEndpoint(item.trim(), env));
  const seen = new Set<string>();
  for (const endpoint of endpoints) {
    const key = dockerEndpointText(endpoint);
    if (seen.has(key))
      throw new ConfigError("MEETPOINT_WORKSPACE_DOCKER", `"${key}" is listed twice`);
    seen.add(key);
  }
  return endpoints;
}

function readDockerEndpoint(text: string, env: Env): DockerEndpoint {
  const bad = () =>
    new ConfigError(
      "MEETPOINT_WORKSPACE_DOCKER",
      `"${text}" is not unix:///path or tcp://host:port`,
    );
  const tlsDir = env.MEETPOINT_WORKSPACE_DOCKER_TLS_DIR || null;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad();
  }
  if (url.protocol === "unix:" && url.pathname.startsWith("/") && !url.host)
    return { kind: "socket", socketPath: decodeURIComponent(url.pathname) };
  if (
    url.protocol === "tcp:" &&
    url.hostname &&
    url.port &&
    url.pathname.replace(/\/$/, "") === ""
  ) {
    if (!tlsDir)
      throw new ConfigError(
        "MEETPOINT_WORKSPACE_DOCKER_TLS_DIR",
        `required for the tcp:// Docker endpoint ${text} (plain TCP gives root on that host to anyone on the network)`,
      );
    return {
      kind: "tls",
      host: url.hostname.replace(/^\[|\]$/g, "").toLowerCase(),
      port: Number(url.port),
      tlsDir,
    };
  }
  throw bad();
}

function readInstance(env: Env): Config["instance"] {
  const id = env.MEETPOINT_INSTANCE_ID || null;
  if (id !== null && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(id))
    throw new ConfigError(
      "MEETPOINT_INSTANCE_ID",
      "expected up to 63 letters, digits, dots, underscores or hyphens",
    );
  return {
    id,
    clockSkewAllowanceMs: integer(env, "MEETPOINT_CLOCK_SKEW_ALLOWANCE_MS", 2000, 100, 600_000),
  };
}

function readOperations(env: Env, publicUrl: URL): OperationsConfig {
  const token = env.MEETPOINT_METRICS_TOKEN || null;
  if (token !== null && token.length < 16)
    throw new ConfigError("MEETPOINT_METRICS_TOKEN", "must be at least 16 characters");
  const networks = (env.MEETPOINT_METRICS_NETWORKS || "")
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => {
      const cidr = parseCidr(item);
      if (!cidr)
        throw new ConfigError(
          "MEETPOINT_METRICS_NETWORKS",
          `"${item}" is not a CIDR block such as 127.0.0.1/32`,
        );
      return cidr;
    });
  const smtpUrl = env.MEETPOINT_SMTP_URL || null;
  if (smtpUrl) {
    let url: URL;
    try {
      url = new URL(smtpUrl);
    } catch {
      throw new ConfigError("MEETPOINT_SMTP_URL", "not a URL");
    }
    if (url.protocol !== "smtp:" && url.protocol !== "smtps:")
      throw new ConfigError("MEETPOINT_SMTP_URL", "must be smtp:// (STARTTLS) or smtps://");
  }
  const from = env.MEETPOINT_SMTP_FROM || `meetpoint@${publicUrl.hostname}`;
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(from))
    throw new ConfigError(
      "MEETPOINT_SMTP_FROM",
      "must be an address such as meetpoint@example.com",
    );
  return {
    siemConfigFile: env.MEETPOINT_SIEM_CONFIG || null,
    metrics: { token, networks },
    retentionDays: integer(env, "MEETPOINT_RETENTION_DAYS", 550, 1, 36_500),
    recordingRetentionDays: integer(env, "MEETPOINT_RECORDING_RETENTION_DAYS", 550, 1, 36_500),
    recordingsDir: env.MEETPOINT_RECORDINGS_DIR || null,
    workspaceBackups: {
      dir: env.MEETPOINT_WORKSPACE_BACKUPS_DIR || null,
      everyMs: integer(env, "MEETPOINT_WORKSPACE_BACKUP_HOURS", 24, 1, 24 * 31) * 3_600_000,
      keep: integer(env, "MEETPOINT_WORKSPACE_BACKUP_KEEP", 7, 1, 1000),
      maxBytes: integer(env, "MEETPOINT_WORKSPACE_BACKUP_MAX_MIB", 10_240, 1, 2 ** 30) * 2 ** 20,
    },
    auditHead: {
      file: env.MEETPOINT_AUDIT_HEAD_FILE || null,
      everyMs: integer(env, "MEETPOINT_AUDIT_HEAD_EXPORT_HOURS", 24, 1, 24 * 31) * 3_600_000,
    },
    smtp: smtpUrl ? { url: smtpUrl, from, caFile: env.MEETPOINT_SMTP_CA || null } : null,
    webhookAllowPrivate: onOff(env, "MEETPOINT_WEBHOOK_ALLOW_PRIVATE", false),
    gatewayOfflineMs: integer(env, "MEETPOINT_GATEWAY_OFFLINE_MINUTES", 10, 1, 24 * 60) * 60_000,
    signInAlertFailures: integer(env, "MEETPOINT_SIGN_IN_ALERT_FAILURES", 5, 2, 1000),
    apiTokenMaxDays: integer(env, "MEETPOINT_API_TOKEN_MAX_DAYS", 365, 1, 3650),
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
