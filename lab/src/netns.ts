// Network namespaces and veth links for tests: real kernel networking on one host, removed after use.
// Addresses come only from 198.18.0.0/15 and 100.64.0.0/10; nothing here routes anywhere else.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { type Subprocess, spawn, spawnSync } from "bun";

function run(args: string[]): string {
  const result = spawnSync(args, { stderr: "pipe", stdout: "pipe" });
  if (result.exitCode !== 0) {
    throw new Error(
      `${args.join(" ")} failed: ${result.stderr.toString().trim() || result.exitCode}`,
    );
  }
  return result.stdout.toString();
}

/** Why lab tests cannot run here, or null when they can (root, iproute2 and the given tools). */
export function labUnavailable(tools: string[] = []): string | null {
  if (process.getuid?.() !== 0) return "needs root (network namespaces)";
  for (const tool of ["ip", ...tools]) {
    if (!Bun.which(tool)) return `needs ${tool}`;
  }
  return null;
}

/**
 * Tests that need the lab: skipped with a one-line reason on a developer's machine without root or
 * tools, but in CI (CI=true) a missing prerequisite fails the run instead.
 */
export function labSkipReason(tools: string[] = []): string | null {
  const reason = labUnavailable(tools);
  // Not common/test/support/prerequisite.ts: lab/src goes into the lab's images, which hold no
  // test folders (.dockerignore), and the lab OpenID provider imports this file.
  if (reason && process.env.CI === "true")
    throw new Error(`lab prerequisite missing in CI: ${reason}`);
  if (reason) console.warn(`skipping lab tests: ${reason}`);
  return reason;
}

/** A network namespace named meetpoint-<prefix>-<random>; destroy() removes it and its links. */
export class Netns {
  private processes: Subprocess[] = [];

  private constructor(readonly name: string) {}

  static create(prefix: string): Netns {
    const name = `meetpoint-${prefix}-${crypto.randomUUID().slice(0, 6)}`;
    run(["ip", "netns", "add", name]);
    const ns = new Netns(name);
    ns.exec("ip", "link", "set", "lo", "up");
    return ns;
  }

  /** Runs a command inside the namespace and returns its output; throws on failure. */
  exec(...args: string[]): string {
    return run(["ip", "netns", "exec", this.name, ...args]);
  }

  /** Starts a long-running process inside the namespace; stopped by destroy(). */
  spawn(
    args: string[],
    options: { cwd?: string; env?: Record<string, string | undefined> } = {},
  ): Subprocess<"ignore", "pipe", "pipe"> {
    const child = spawn(["ip", "netns", "exec", this.name, ...args], {
      cwd: options.cwd,
      env: options.env ? { ...process.env, ...options.env } : undefined,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    this.processes.push(child);
    return child;
  }

  /**
   * The DNS server programs in this namespace use: `ip netns exec` mounts /etc/netns/<name>/
   * resolv.conf over /etc/resolv.conf for them.
   */
  useNameserver(address: string): void {
    mkdirSync(`/etc/netns/${this.name}`, { recursive: true });
    writeFileSync(`/etc/netns/${this.name}/resolv.conf`, `nameserver ${address}\n`);
  }

  destroy(): void {
    for (const child of this.processes) child.kill("SIGKILL");
    // Everything else still running in the namespace too (an OpenVPN server the platform started,
    // a shell's child): otherwise it keeps the namespace and its links alive after deletion.
    const pids = spawnSync(["ip", "netns", "pids", this.name], {
      stdout: "pipe",
      stderr: "ignore",
    });
    for (const pid of pids.stdout.toString().split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // already gone
      }
    }
    spawnSync(["ip", "netns", "del", this.name], { stderr: "ignore" });
    rmSync(`/etc/netns/${this.name}`, { recursive: true, force: true });
  }
}

/**
 * Connects two namespaces with a veth pair and gives each end an address (CIDR notation).
 * Interface names stay under the kernel's 15-character limit.
 */
export function link(
  a: Netns,
  aAddress: string,
  b: Netns,
  bAddress: string,
): { aName: string; bName: string } {
  const tag = crypto.randomUUID().slice(0, 6);
  const aName = `mp${tag}a`;
  const bName = `mp${tag}b`;
  run([
    "ip",
    "link",
    "add",
    aName,
    "netns",
    a.name,
    "type",
    "veth",
    "peer",
    "name",
    bName,
    "netns",
    b.name,
  ]);
  a.exec("ip", "addr", "add", aAddress, "dev", aName);
  b.exec("ip", "addr", "add", bAddress, "dev", bName);
  a.exec("ip", "link", "set", aName, "up");
  b.exec("ip", "link", "set", bName, "up");
  return { aName, bName };
}

/**
 * Connects a namespace to the host (the test's own namespace) with a veth pair, so the test can
 * talk to a server inside it directly. Removed with the namespace.
 */
export function linkToHost(ns: Netns, hostAddress: string, nsAddress: string): string {
  // A host end left by an earlier run (its namespace kept alive a while by closing sockets) would
  // shadow the new link: remove our own leftovers with the same address first.
  const address = hostAddress.split("/")[0];
  const existing = JSON.parse(run(["ip", "-j", "addr", "show"])) as {
    ifname: string;
    addr_info?: { local: string }[];
  }[];
  for (const link of existing) {
    if (/^mp[0-9a-f]{6}h$/.test(link.ifname) && link.addr_info?.some((a) => a.local === address))
      spawnSync(["ip", "link", "del", link.ifname], { stderr: "ignore" });
  }
  const tag = crypto.randomUUID().slice(0, 6);
  const hostName = `mp${tag}h`;
  const nsName = `mp${tag}n`;
  run(["ip", "link", "add", hostName, "type", "veth", "peer", "name", nsName, "netns", ns.name]);
  run(["ip", "addr", "add", hostAddress, "dev", hostName]);
  run(["ip", "link", "set", hostName, "up"]);
  ns.exec("ip", "addr", "add", nsAddress, "dev", nsName);
  ns.exec("ip", "link", "set", nsName, "up");
  return nsName;
}

/** Waits until an async check holds, every `intervalMs`; false after `timeoutMs`. */
/**
 * The operator's terminal on a site's LAN, reached from the host: a host link into the LAN's
 * namespace, which passes what arrives on it to the gateway's LAN address (DNAT + masquerade) — the
 * gateway sees a device on its LAN, as it would an HMI. Only the LAN side reaches a gateway itself.
 */
export function operatorLink(
  lan: Netns,
  hostAddress: string,
  nsAddress: string,
  gatewayLanAddress: string,
): void {
  const device = linkToHost(lan, hostAddress, nsAddress);
  const host = hostAddress.split("/")[0];
  lan.exec("sysctl", "-qw", "net.ipv4.ip_forward=1");
  lan.exec("nft", "add table ip operator");
  lan.exec("nft", "add chain ip operator in { type nat hook prerouting priority dstnat; }");
  lan.exec("nft", `add rule ip operator in iifname "${device}" dnat to ${gatewayLanAddress}`);
  lan.exec("nft", "add chain ip operator out { type nat hook postrouting priority srcnat; }");
  lan.exec("nft", `add rule ip operator out ip saddr ${host} masquerade`);
}

export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await Bun.sleep(intervalMs);
  }
  return check().catch(() => false);
}

/** Waits until `predicate` holds, polling every 50 ms; false after `timeoutMs`. */

export async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (predicate()) return true;
    await Bun.sleep(50);
  }
  return predicate();
}

/** Collects a process's output as it arrives, so tests can wait for a line. */
export class OutputLog {
  text = "";

  constructor(child: Subprocess<"ignore", "pipe", "pipe">) {
    void this.drain(child.stdout);
    void this.drain(child.stderr);
  }

  private async drain(stream: ReadableStream<Uint8Array>) {
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      this.text += decoder.decode(value, { stream: true });
    }
  }

  has(pattern: RegExp | string): boolean {
    return typeof pattern === "string" ? this.text.includes(pattern) : pattern.test(this.text);
  }
}

/** Why a real-browser test cannot run here (no Chromium), or null; in CI a missing browser fails. */
export function browserSkipReason(): string | null {
  const reason = Bun.which("chromium") ? null : "needs chromium (Debian package)";
  if (reason && process.env.CI === "true")
    throw new Error(`browser prerequisite missing in CI: ${reason}`);
  if (reason) console.warn(`skipping browser tests: ${reason}`);
  return reason;
}
