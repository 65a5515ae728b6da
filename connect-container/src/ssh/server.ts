// The gateway's maintenance SSH server (dropbear): started, re-bound and stopped as the signed
// settings and the maintenance sessions ask; the keys it accepts written for the login account; its
// log turned into SSH events. Dies with the agent (it must never run without the firewall's owner).
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type ProcessHandle,
  parseSshPublicKey,
  type Runner,
  type SpawnOptions,
  type SshEvent,
  spawnProcess,
  stopProcess,
  waitFor,
} from "@meetpoint/common";
import { authorizedKeysFile, DropbearLog, dropbearArgs, KEYS_FILE_MARK } from "./dropbear.ts";

/** What the SSH server should be doing now. */
export interface SshDesired {
  enabled: boolean;
  /** Checked key lines ("<type> <base64>"): the platform's, and the operator's where allowed. */
  keys: string[];
  /** IPv4 addresses to listen on; never a WAN address. */
  addresses: string[];
}

/** The SSH server as the agent uses it; a fake stands in for unit and UI tests. */
export interface SshPort {
  apply(desired: SshDesired): Promise<void>;
  stop(): Promise<void>;
  /** SHA256 fingerprint of the host key while the server runs; null otherwise. */
  readonly hostKey: string | null;
  /** The addresses it listens on now (empty: not running). */
  readonly listening: string[];
  /** Where logins and failed attempts go (the agent sets it). */
  onEvent: (event: SshEvent) => void;
}

export interface DropbearServerDeps {
  /** Where the host key and the pid file live (on the state volume). */
  dir: string;
  /** The account maintenance logins use: its ~/.ssh/authorized_keys is written by the agent. */
  user: string;
  run: Runner;
  spawn?: (args: string[], options: SpawnOptions) => ProcessHandle;
  log: (level: "info" | "warn" | "error", text: string) => void;
}

/** How long dropbear may take to start listening, in milliseconds. */
const START_TIMEOUT_MS = 5000;

export class DropbearServer implements SshPort {
  private child: ProcessHandle | null = null;
  private boundTo: string[] = [];
  private fingerprint: string | null = null;
  private writtenKeys: string | null = null;
  onEvent: (event: SshEvent) => void = () => {};

  constructor(private readonly deps: DropbearServerDeps) {}

  get hostKey(): string | null {
    return this.child ? this.fingerprint : null;
  }

  get listening(): string[] {
    return this.child ? [...this.boundTo] : [];
  }

  /** Brings the server in line with `desired`. Throws (with the reason) when it cannot. */
  async apply(desired: SshDesired): Promise<void> {
    if (!desired.enabled) {
      await this.stop();
      await this.writeKeys([]);
      return;
    }
    await this.writeKeys(desired.keys);
    const addresses = [...new Set(desired.addresses)].sort();
    if (addresses.length === 0) {
      await this.stop();
      throw new Error("SSH: the LAN interface has no IPv4 address to listen on");
    }
    if (this.child && addresses.join() === this.boundTo.join()) return;
    await this.stopListener();
    await this.start(addresses);
  }

  /** Stops the server and ends its open sessions. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    // Sessions are dropbear's forked children: switching SSH off ends them too.
    for (const pid of childrenOf(child.pid)) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // ended meanwhile
      }
    }
    await this.stopListener();
    this.deps.log("info", "SSH server stopped");
  }

  /** Stops only the listener: sessions already open go on (a re-bind must not cut them). */
  private async stopListener(): Promise<void> {
    const child = this.child;
    this.child = null;
    this.boundTo = [];
    if (child) await stopProcess(child, { graceMs: 1000 });
  }

  private async start(addresses: string[]): Promise<void> {
    mkdirSync(this.deps.dir, { recursive: true, mode: 0o700 });
    const hostKey = join(this.deps.dir, "host_ed25519");
    this.fingerprint = await this.ensureHostKey(hostKey);
    const log = new DropbearLog();
    const spawn = this.deps.spawn ?? spawnProcess;
    const child = spawn(
      dropbearArgs({ hostKey, addresses, pidFile: join(this.deps.dir, "dropbear.pid") }),
      {
        diesWithParent: true,
        tailLines: 50,
        onLine: (line) => {
          const event = log.read(line);
          if (event) this.onEvent(event);
          else if (/Failed listening|Error|No listening/i.test(line))
            this.deps.log("warn", `SSH: ${line.replace(/^\[\d+\] \S+ \d+ \S+ /, "")}`);
        },
      },
    );
    const started = await waitFor(() => child.hasLine("Not backgrounding"), {
      timeoutMs: START_TIMEOUT_MS,
      intervalMs: 20,
      giveUpIf: () => child.end !== null,
    });
    if (!started || child.end !== null) {
      await stopProcess(child, { graceMs: 500 });
      const why = child.tail().at(-1) ?? "it did not start";
      throw new Error(`SSH server could not start: ${why}`);
    }
    this.child = child;
    this.boundTo = addresses;
    void child.exited.then(() => {
      if (this.child !== child) return;
      this.child = null;
      this.boundTo = [];
      this.deps.log("error", `SSH server ended: ${child.tail().at(-1) ?? "no reason given"}`);
    });
    this.deps.log("info", `SSH server listening on ${addresses.map((a) => `${a}:22`).join(", ")}`);
  }

  /** Makes the ed25519 host key once; returns its SHA256 fingerprint. */
  private async ensureHostKey(path: string): Promise<string> {
    let shown = await this.deps.run(["dropbearkey", "-y", "-f", path], { timeoutMs: 5000 });
    if (shown.code !== 0) {
      const made = await this.deps.run(["dropbearkey", "-t", "ed25519", "-f", path], {
        timeoutMs: 10_000,
      });
      if (made.code !== 0)
        throw new Error(`SSH host key could not be made: ${made.stderr.trim() || made.code}`);
      shown = await this.deps.run(["dropbearkey", "-y", "-f", path], { timeoutMs: 5000 });
    }
    const line = shown.stdout.split("\n").find((l) => l.startsWith("ssh-ed25519 ")) ?? "";
    const parsed = parseSshPublicKey(line);
    if (!parsed.ok) throw new Error(`SSH host key unreadable: ${parsed.reason}`);
    return parsed.key.fingerprint;
  }

  /** Writes ~user/.ssh/authorized_keys (the account's home as the system knows it). */
  private async writeKeys(keys: string[]): Promise<void> {
    const text = authorizedKeysFile(keys);
    if (text === this.writtenKeys) return;
    const entry = await this.deps.run(["getent", "passwd", this.deps.user], { timeoutMs: 5000 });
    const home = entry.stdout.trim().split(":")[5];
    if (entry.code !== 0 || !home?.startsWith("/")) {
      if (keys.length === 0) return; // nothing to withdraw from an account that does not exist
      throw new Error(`SSH: the login account ${this.deps.user} does not exist here`);
    }
    const dir = join(home, ".ssh");
    const path = join(dir, "authorized_keys");
    // A file someone else wrote (an appliance's own admin keys) is never replaced or emptied.
    let existing: string | null = null;
    try {
      existing = readFileSync(path, "utf8");
    } catch {
      // none yet
    }
    if (existing !== null && !existing.startsWith(KEYS_FILE_MARK)) {
      if (keys.length === 0) return;
      throw new Error(
        `SSH: ${path} was not written by the agent; it is left alone — set MEETPOINT_SSH_USER to an account of its own`,
      );
    }
    if (existing === null && keys.length === 0) return;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
    chmodSync(`${path}.tmp`, 0o600);
    renameSync(`${path}.tmp`, path);
    this.writtenKeys = text;
  }
}

/** The process ids of `pid`'s children (Linux: /proc/<pid>/task/<pid>/children). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}
