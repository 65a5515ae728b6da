// The connect agent's configuration: read once from the environment, validated, documented here.
import { resolve } from "node:path";

import { ConfigError } from "@meetpoint/common";

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
  /** "kernel": the real firewall; "dry-run": demo mode, a firewall that only records. */
  firewall: "kernel" | "dry-run";
}

const INTERFACE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

function port(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const text = env[name] ?? String(fallback);
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535)
    throw new ConfigError(name, `${text}: must be a port number (0-65535)`);
  return value;
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
    firewall,
  };
}
