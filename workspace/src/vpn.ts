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

/**
 * OpenVPN's argv. The profile was validated by the platform (no scripts, no files from disk);
 * script-security 1 again here so a profile cannot run a program; the management interface stays
 * off (the log is enough to follow the state).
 */
export function openvpnArgs(configPath = OPENVPN_CONFIG): string[] {
  return ["openvpn", "--config", configPath, "--script-security", "1", "--verb", "3"];
}

/** swanctl's argv to load the connections (and, by their start_action, initiate them). */
export function swanctlLoadArgs(configPath = SWANCTL_CONFIG): string[] {
  return ["swanctl", "--load-all", "--noprompt", "--file", configPath];
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
 * INSTALLED, otherwise connecting.
 */
export function swanctlSasState(listing: string): VpnState {
  return /\bESTABLISHED\b/.test(listing) && /\bINSTALLED\b/.test(listing) ? "up" : "connecting";
}
