// The connect agent's configuration: read once from the environment, validated, documented here.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

import { ConfigError, checkHttpProxy, type HttpProxy } from "@meetpoint/common";

export { ConfigError };

/** Every variable the agent reads, with its default and meaning (the README lists them too). */
export const VARIABLES = {
  MEETPOINT_DATA_DIR:
    "State volume: enrollment, operator password, event log (default ./data/connect)",
  MEETPOINT_IMPORT_DIR:
    'Watched directory for enrollment bundles, the "USB stick" (default <data>/import)',
  MEETPOINT_WAN_INTERFACE:
    "Interface towards the customer network and the platform, as the diagnostics check it (default eth0); the firewall treats every interface but the LAN and loopback as WAN side",
  MEETPOINT_LAN_INTERFACE: "Interface towards the machines (default eth1)",
  MEETPOINT_UI_ADDRESS:
    "Address the operator UI and local consent API listen on (default 0.0.0.0; the firewall closes the WAN side)",
  MEETPOINT_UI_HTTPS_PORT: "Operator UI over HTTPS (default 443)",
  MEETPOINT_UI_HTTP_PORT: "Plain HTTP, redirects to HTTPS; 0 turns it off (default 80)",
  MEETPOINT_INITIAL_PASSWORD:
    "Operator password until the first sign-in changes it (default meetpoint)",
  MEETPOINT_NTP_SERVERS:
    "SNTP servers the diagnostics ask (default ptbtime1.ptb.de,ptbtime2.ptb.de,ptbtime3.ptb.de)",
  MEETPOINT_HEARTBEAT_SECONDS: "Heartbeat interval (default 10)",
  MEETPOINT_HTTP_PROXY:
    "The plant's HTTP proxy as host:port, for the control channel (HTTP CONNECT) and OpenVPN (http-proxy, TCP); set here it overrides the operator UI's and the enrollment bundle's",
  MEETPOINT_HTTP_PROXY_USER: "User name for the proxy (Basic authentication), if it asks for one",
  MEETPOINT_HTTP_PROXY_PASSWORD_FILE:
    "File holding the proxy password (one line), with MEETPOINT_HTTP_PROXY_USER",
  MEETPOINT_SSH_USER:
    "Account of maintenance SSH logins (default root); the agent owns its ~/.ssh/authorized_keys",
  MEETPOINT_REQUEST_LAMP_PATH:
    "File the agent writes 1 to while a request waits for the operator's Allow / Deny, 0 otherwise (e.g. a GPIO sysfs value file); unset: no lamp",
  MEETPOINT_FIREWALL:
    'Whose firewall the agent sets: "kernel" (default) applies the gateway ruleset to its network namespace; "dry-run" (demo mode, to try the agent on a laptop) only records it and touches nothing — the gateway then protects nothing, and every page says so',
} as const;

export interface AgentConfig {
  dataDir: string;
  importDir: string;
  wanInterface: string;
  lanInterface: string;
  uiAddress: string;
  httpsPort: number;
  httpPort: number;
  initialPassword: string;
  ntpServers: string[];
  heartbeatMs: number;
  sshUser: string;
  /** The proxy from the environment; null when MEETPOINT_HTTP_PROXY is unset. */
  httpProxy: HttpProxy | null;
  /**
   * Ambient proxy variables (HTTPS_PROXY …) that are set: ignored on purpose — the gateway uses
   * one explicit proxy for both channels, never one the runtime picks up for HTTPS only.
   */
  ignoredProxyVariables: string[];
  /** "kernel": the real firewall; "dry-run": demo mode, a firewall that only records. */
  firewall: "kernel" | "dry-run";
  /** The request lamp's output file (an absolute path); null: no lamp. */
  requestLampPath: string | null;
}

const INTERFACE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

function port(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const text = env[name] ?? String(fallback);
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535)
    throw new ConfigError(name, `${text}: must be a port number (0-65535)`);
  return value;
}

/** Ambient variables fetch() would obey on its own; the agent drops them (see ignoredProxyVariables). */
const AMBIENT_PROXY = [
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "ALL_PROXY",
  "http_proxy",
  "https_proxy",
  "all_proxy",
];

function httpProxy(env: Record<string, string | undefined>): HttpProxy | null {
  const text = env.MEETPOINT_HTTP_PROXY;
  if (!text) return null;
  const at = text.lastIndexOf(":");
  if (at < 1)
    throw new ConfigError("MEETPOINT_HTTP_PROXY", `${text}: must be host:port (no scheme)`);
  let password: string | null = null;
  const file = env.MEETPOINT_HTTP_PROXY_PASSWORD_FILE;
  if (file) {
    try {
      password = readFileSync(file, "utf8").split("\n")[0] ?? "";
    } catch (error) {
      throw new ConfigError(
        "MEETPOINT_HTTP_PROXY_PASSWORD_FILE",
        `cannot be read: ${(error as Error).message}`,
      );
    }
  }
  const checked = checkHttpProxy({
    host: text.slice(0, at),
    port: text.slice(at + 1),
    username: env.MEETPOINT_HTTP_PROXY_USER ?? null,
    password,
  });
  if (!checked.ok) {
    const variable =
      checked.field === "username"
        ? "MEETPOINT_HTTP_PROXY_USER"
        : checked.field === "password"
          ? "MEETPOINT_HTTP_PROXY_PASSWORD_FILE"
          : "MEETPOINT_HTTP_PROXY";
    throw new ConfigError(variable, `${checked.field} ${checked.message}`);
  }
  return checked.proxy;
}

export function readConfig(env: Record<string, string | undefined>): AgentConfig {
  const dataDir = resolve(env.MEETPOINT_DATA_DIR || "data/connect");
  const wanInterface = env.MEETPOINT_WAN_INTERFACE || "eth0";
  const lanInterface = env.MEETPOINT_LAN_INTERFACE || "eth1";
  for (const [name, value] of [
    ["MEETPOINT_WAN_INTERFACE", wanInterface],
    ["MEETPOINT_LAN_INTERFACE", lanInterface],
  ] as const) {
    if (!INTERFACE.test(value)) throw new ConfigError(name, `${value}: not an interface name`);
  }
  if (wanInterface === lanInterface)
    throw new ConfigError("MEETPOINT_LAN_INTERFACE", "must differ from MEETPOINT_WAN_INTERFACE");
  const initialPassword = env.MEETPOINT_INITIAL_PASSWORD || "meetpoint";
  const sshUser = env.MEETPOINT_SSH_USER || "root";
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(sshUser))
    throw new ConfigError("MEETPOINT_SSH_USER", `${sshUser}: not an account name`);
  const heartbeat = Number(env.MEETPOINT_HEARTBEAT_SECONDS ?? "10");
  if (!Number.isFinite(heartbeat) || heartbeat < 1 || heartbeat > 300)
    throw new ConfigError("MEETPOINT_HEARTBEAT_SECONDS", "must be 1-300");
  const firewall = env.MEETPOINT_FIREWALL || "kernel";
  if (firewall !== "kernel" && firewall !== "dry-run")
    throw new ConfigError("MEETPOINT_FIREWALL", `${firewall}: must be "kernel" or "dry-run"`);
  return {
    dataDir,
    importDir: resolve(env.MEETPOINT_IMPORT_DIR || resolve(dataDir, "import")),
    wanInterface,
    lanInterface,
    uiAddress: env.MEETPOINT_UI_ADDRESS || "0.0.0.0",
    httpsPort: port(env, "MEETPOINT_UI_HTTPS_PORT", 443),
    httpPort: port(env, "MEETPOINT_UI_HTTP_PORT", 80),
    initialPassword,
    ntpServers: (env.MEETPOINT_NTP_SERVERS || "ptbtime1.ptb.de,ptbtime2.ptb.de,ptbtime3.ptb.de")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    heartbeatMs: heartbeat * 1000,
    sshUser,
    httpProxy: httpProxy(env),
    ignoredProxyVariables: AMBIENT_PROXY.filter((name) => env[name]),
    firewall,
    requestLampPath: env.MEETPOINT_REQUEST_LAMP_PATH
      ? resolve(env.MEETPOINT_REQUEST_LAMP_PATH)
      : null,
  };
}
