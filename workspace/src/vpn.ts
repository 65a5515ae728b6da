// The customer's VPN inside the workspace, as pure data: the argv of each client, and what a line
// of OpenVPN's log or swanctl's SA listing says about the tunnel's state.
import type { WorkspaceReport } from "@meetpoint/common";

/** Where the supervisor writes the profile, on the /run tmpfs (mode 0600, root). */
export const VPN_DIR = "/run/meetpoint/vpn";
export const OPENVPN_CONFIG = `${VPN_DIR}/client.ovpn`;
export const SWANCTL_CONFIG = `${VPN_DIR}/swanctl.conf`;
/** Debian's strongswan-charon: the IKE daemon without systemd; swanctl talks to it over VICI. */
export const CHARON = "/usr/lib/ipsec/charon";
export const CHARON_VICI = "/run/charon.vici";
/** strongSwan's config for charon and swanctl (env STRONGSWAN_CONF): Debian's, logging to stderr. */
export const STRONGSWAN_CONF = `${VPN_DIR}/strongswan.conf`;

/**
 * Where charon's ESP runs: the kernel's (XFRM states and policies) or strongSwan's userspace
 * libipsec (the kernel-libipsec plugin: ESP inside charon, cleartext through a TUN device, ESP
 * always UDP-encapsulated on port 4500) for kernels without ESP (CONFIG_INET_ESP unset).
 */
export type IpsecBackend = "kernel" | "libipsec";

/** The TUN device kernel-libipsec creates (its name is fixed: "ipsec" and the first free number). */
export const LIBIPSEC_TUN = "ipsec0";

/**
 * The probe for kernel ESP (espProbeArgs), run as root in the container's own network namespace: adds an ESP
 * state (tunnel mode, AES-CBC + HMAC-SHA256, loopback addresses, fixed SPI) — nothing is sent, a
 * state without a policy matches no packet — and deletes it again. The kernel answers
 * EPROTONOSUPPORT ("Protocol not supported") when it has no ESP.
 */
const ESP_PROBE_STATE = [
  "src",
  "127.0.0.1",
  "dst",
  "127.0.0.2",
  "proto",
  "esp",
  "spi",
  "0x4d500001",
];
/** argv of the probe's two steps (see above). */
export function espProbeArgs(): { add: string[]; delete: string[] } {
  return {
    add: [
      "ip",
      "xfrm",
      "state",
      "add",
      ...ESP_PROBE_STATE,
      "mode",
      "tunnel",
      "enc",
      "cbc(aes)",
      `0x${"11".repeat(16)}`,
      "auth-trunc",
      "hmac(sha256)",
      `0x${"22".repeat(32)}`,
      "128",
    ],
    delete: ["ip", "xfrm", "state", "delete", ...ESP_PROBE_STATE],
  };
}

/**
 * Which backend the probe's result calls for: the kernel when `ip xfrm state add` succeeded,
 * libipsec otherwise (EPROTONOSUPPORT: no ESP in this kernel; any other refusal — no XFRM at
 * all, a missing algorithm — likewise leaves the kernel unusable for ESP). `reason` says why, in
 * words for the log.
 */
export function ipsecBackendFor(probe: { code: number; stderr: string }): {
  backend: IpsecBackend;
  reason: string;
} {
  if (probe.code === 0) return { backend: "kernel", reason: "the kernel accepts ESP states" };
  const said = probe.stderr.trim().split("\n").at(-1)?.slice(0, 200) || `exit ${probe.code}`;
  // EPROTONOSUPPORT: "Protocol not supported", or newer kernels' own words for it.
  if (/Protocol not supported|Requested type not found/i.test(said))
    return { backend: "libipsec", reason: `no ESP in this kernel (ip xfrm: ${said})` };
  return { backend: "libipsec", reason: `the kernel refused an ESP state (ip xfrm: ${said})` };
}

/**
 * Debian's /etc/strongswan.conf with its relative includes made absolute, plus a log on stderr
 * (the supervisor's output) instead of syslog, which a container does not have. For `libipsec`
 * the kernel-libipsec plugin is loaded (Debian's libcharon-extra-plugins), before kernel-netlink
 * (priority 2) so that its IPsec interface is the one charon uses; kernel-netlink still does the
 * routes (table 220 → the TUN device) and addresses. For `kernel` it stays unloaded.
 */
export function strongswanConf(backend: IpsecBackend = "kernel"): string {
  return `charon {
  load_modular = yes
  plugins {
    include /etc/strongswan.d/charon/*.conf
    kernel-libipsec {
      load = ${backend === "libipsec" ? "2" : "no"}
    }
  }
  filelog {
    stderr {
      default = 1
      time_format = %F %T
    }
  }
}
include /etc/strongswan.d/*.conf
`;
}

/**
 * OpenVPN's argv. The profile was validated by the platform (no scripts, no files from disk);
 * script-security 1 again here so a profile cannot run a program; the management interface stays
 * off (the log is enough to follow the state).
 */
export function openvpnArgs(configPath = OPENVPN_CONFIG): string[] {
  return ["openvpn", "--config", configPath, "--script-security", "1", "--verb", "3"];
}

/** argv that runs a strongSwan program with our strongswan.conf (env STRONGSWAN_CONF). */
export function withStrongswanConf(args: string[]): string[] {
  return ["env", `STRONGSWAN_CONF=${STRONGSWAN_CONF}`, ...args];
}

/** charon's argv. */
export function charonArgs(): string[] {
  return withStrongswanConf([CHARON]);
}

/** swanctl's argv to load the connections (and, by their start_action, initiate them). */
export function swanctlLoadArgs(configPath = SWANCTL_CONFIG): string[] {
  return withStrongswanConf(["swanctl", "--load-all", "--noprompt", "--file", configPath]);
}

export type VpnState = WorkspaceReport["vpn"];

export interface VpnEvent {
  vpn: VpnState;
  lastError?: string;
}

/**
 * What one line of OpenVPN's log (verb 3) says: up once "Initialization Sequence Completed",
 * connecting again on a restart with its reason, null for lines that change nothing.
 */
export function openvpnLineEvent(line: string): VpnEvent | null {
  if (line.includes("Initialization Sequence Completed")) return { vpn: "up" };
  const restart = /SIGUSR1\[[^\]]*,([^\]]+)\] received, process restarting/.exec(line);
  if (restart) return { vpn: "connecting", lastError: `openvpn: restarting (${restart[1]})` };
  if (/AUTH_FAILED/.test(line)) return { vpn: "connecting", lastError: "openvpn: AUTH_FAILED" };
  const tlsError =
    /(Options error: .*|TLS Error: [^,]+|VERIFY ERROR[^,]*|Cannot resolve host address: \S+)/.exec(
      line,
    );
  if (tlsError) return { vpn: "connecting", lastError: `openvpn: ${tlsError[1]}` };
  return null;
}

/**
 * The state in `swanctl --list-sas` output: up when an IKE SA is ESTABLISHED and a CHILD SA
 * INSTALLED; down when no SA is left after charon logged a failure (`failed`: an authentication
 * the peer refused, a peer that never answered — charon does not try again by itself then);
 * otherwise connecting (also before the first SA exists).
 */
export function swanctlSasState(listing: string, failed = false): VpnState {
  if (/\bESTABLISHED\b/.test(listing) && /\bINSTALLED\b/.test(listing)) return "up";
  return failed && !/\S/.test(listing) ? "down" : "connecting";
}

/** What one line of charon's log says went wrong, in words; null for other lines. */
export function charonLineError(line: string): string | null {
  if (/AUTHENTICATION_FAILED/.test(line)) return "ipsec: authentication failed";
  const giveUp = /giving up after (\d+) retransmits/.exec(line);
  if (giveUp) return `ipsec: no answer from the peer (gave up after ${giveUp[1]} retransmits)`;
  if (/NO_PROPOSAL_CHOSEN/.test(line)) return "ipsec: no proposal chosen (algorithms do not match)";
  if (/TS_UNACCEPTABLE/.test(line))
    return "ipsec: traffic selectors unacceptable (subnets do not match)";
  const noKey = /no shared key found for '([^']*)'/.exec(line);
  if (noKey) return `ipsec: no shared key for '${noKey[1]}'`;
  // Certificate auth: the peer's certificate does not chain to the remote CA (or names another
  // identity), or our own private key is missing; charon tells the peer AUTH_FAILED and gives up.
  const untrusted = /no trusted \S+ public key found for '([^']*)'/.exec(line);
  if (untrusted)
    return `ipsec: authentication failed: no trusted certificate for '${untrusted[1]}' (not issued by the remote CA, or for another identity)`;
  const noPrivate = /no private key found for '([^']*)'/.exec(line);
  if (noPrivate) return `ipsec: no private key for '${noPrivate[1]}'`;
  return null;
}
