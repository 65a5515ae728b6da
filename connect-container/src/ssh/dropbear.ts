// The maintenance SSH server is Debian's dropbear (dropbear-bin): its command line, the
// authorized_keys file the agent writes for it, and the reading of its log — all pure. See
// dropbear(8): -F foreground, -E log to stderr, -s no passwords (dropbear has no keyboard-
// interactive server side at all), -j/-k no port forwarding, -p address:port per listening address.
import type { SshEvent } from "@meetpoint/common";
import { SSH_PORT } from "../firewall/ruleset.ts";

export interface DropbearOptions {
  /** The ed25519 host key (made by dropbearkey). */
  hostKey: string;
  /** IPv4 addresses to listen on (the LAN side's, and the tunnel's in a maintenance session). */
  addresses: string[];
  pidFile: string;
  executable?: string;
}

/** Most authentication tries per connection before dropbear drops it. */
export const MAX_AUTH_TRIES = 3;
/** Keepalive interval in seconds: a flow the firewall cut is noticed and its session ended. */
const KEEPALIVE_SECONDS = 15;
/** A session that is idle this long (seconds) is closed. */
const IDLE_SECONDS = 1800;

/** dropbear's argv: key-only, no forwarding, listening only on `addresses` (pure). */
export function dropbearArgs(options: DropbearOptions): string[] {
  if (options.addresses.length === 0 || options.addresses.length > 10)
    throw new Error("dropbear listens on 1 to 10 addresses");
  return [
    options.executable ?? "dropbear",
    "-F",
    "-E",
    "-s",
    "-j",
    "-k",
    "-m",
    "-T",
    String(MAX_AUTH_TRIES),
    "-K",
    String(KEEPALIVE_SECONDS),
    "-I",
    String(IDLE_SECONDS),
    "-r",
    options.hostKey,
    "-P",
    options.pidFile,
    ...options.addresses.flatMap((address) => ["-p", `${address}:${SSH_PORT}`]),
  ];
}

/** Restrictions on every key: a maintenance login is a shell on the gateway, never a tunnel. */
const KEY_OPTIONS = "no-port-forwarding,no-agent-forwarding,no-X11-forwarding";

/** The first line of every authorized_keys file the agent writes: it replaces only such files. */
export const KEYS_FILE_MARK =
  "# Written by the Meetpoint gateway agent from its signed settings: changes here are lost.";

/** The authorized_keys file for `keys` ("<type> <base64>" each, already checked). */
export function authorizedKeysFile(keys: string[]): string {
  const lines = [...new Set(keys)].map((key) => {
    if (!/^[a-z0-9@.-]+ [A-Za-z0-9+/]+=*$/.test(key)) throw new Error("not a checked key line");
    return `${KEY_OPTIONS} ${key}`;
  });
  return `${KEYS_FILE_MARK}\n${lines.join("\n")}${lines.length ? "\n" : ""}`;
}

/**
 * Turns dropbear's log lines into SSH events: one "login" per accepted key, one "failed" per
 * connection that ended before authentication (with the tries and dropbear's reason). Keeps a
 * little state per dropbear process id (a nonexistent user is said in a line of its own).
 */
export class DropbearLog {
  private readonly unknownUser = new Set<string>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  /** The event a line means, or null (most lines mean nothing to the audit log). */
  read(line: string): SshEvent | null {
    const pid = line.match(/^\[(\d+)\]/)?.[1] ?? "";
    const at = this.now().toISOString();
    const success = line.match(
      /Pubkey auth succeeded for '([^']{0,64})' with (\S+) key (SHA256:[A-Za-z0-9+/]+) from (\S+)$/,
    );
    if (success)
      return {
        at,
        kind: "login",
        user: success[1] ?? null,
        from: success[4]?.slice(0, 64) ?? null,
        fingerprint: success[3] ?? null,
        detail: `${success[2]} key accepted`,
      };
    if (/Login attempt for nonexistent user/.test(line)) {
      this.unknownUser.add(pid);
      return null;
    }
    const failed = line.match(
      /Exit before auth from <([^>]{1,64})>: (?:\(user '([^']{0,64})', (\d+) fails?\): )?(.*)$/,
    );
    if (failed) {
      const unknown = this.unknownUser.delete(pid);
      const tries = failed[3] ? `${failed[3]} failed tries; ` : "";
      return {
        at,
        kind: "failed",
        user: failed[2] ?? null,
        from: failed[1] ?? null,
        fingerprint: null,
        detail: `${unknown ? "no such user; " : ""}${tries}not authenticated (${(failed[4] ?? "").slice(0, 200)})`,
      };
    }
    return null;
  }
}
