// Supervises the platform's OpenVPN servers: writes their configuration, starts them, attaches to
// their management sockets, and restarts a crashed one with back-off.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type Cidr,
  exitReason,
  fileExists,
  ManagementClient,
  type ManagementEvent,
  type ProcessHandle,
  stopProcess,
  waitFor,
} from "@meetpoint/common";
import type { Pki } from "../pki/index.ts";
import type { CommandRunner } from "../system/index.ts";
import { renderServerConfig, type ServerInstance } from "./server-config.ts";

export interface VpnServersOptions {
  commands: CommandRunner;
  /** Runtime directory for configs, server keys and management sockets (mode 0700). */
  dir: string;
  pki: Pki;
  proxyPool: Cidr;
  instances: ServerInstance[];
  /** Every management event, with the server it came from. */
  onEvent: (instance: number, event: ManagementEvent, client: ManagementClient) => void;
  /** A server's process ended unexpectedly (its connections are gone). */
  onCrash: (instance: number, output: string) => void;
  /** How often servers report each connection's traffic, in seconds; default 5. */
  bytecountSeconds?: number;
  log?: (line: string) => void;
}

interface Running {
  process: ProcessHandle;
  client: ManagementClient;
}

/** The last lines a server printed: enough to say why it stopped. */
const tailOf = (process: ProcessHandle) => process.tail().slice(-40).join("\n");

const SERVER_CERT_SECONDS = 7 * 86_400;

export class VpnServers {
  private running = new Map<number, Running>();
  private stopping = false;
  private failures = new Map<number, number>();

  constructor(private readonly options: VpnServersOptions) {}

  async start(): Promise<void> {
    mkdirSync(this.options.dir, { recursive: true, mode: 0o700 });
    for (const instance of this.options.instances) await this.startOne(instance);
  }

  private async startOne(instance: ServerInstance): Promise<void> {
    const { dir, pki } = this.options;
    const files = pki.trustFiles;
    if (!files) throw new Error("the PKI keeps no trust files for OpenVPN");
    const certificate = await pki.issueServerCertificate(SERVER_CERT_SECONDS);
    const paths = {
      certificate: join(dir, `server${instance.index}.pem`),
      privateKey: join(dir, `server${instance.index}.key`),
      managementSocket: join(dir, `vpn${instance.index}.sock`),
      config: join(dir, `server${instance.index}.conf`),
      pidFile: join(dir, `vpn${instance.index}.pid`),
    };
    await this.stopOrphan(paths.pidFile, paths.config);
    writeFileSync(paths.certificate, certificate.certificatePem, { mode: 0o600 });
    writeFileSync(paths.privateKey, certificate.privateKeyPem, { mode: 0o600 });
    rmSync(paths.managementSocket, { force: true });
    writeFileSync(
      paths.config,
      renderServerConfig({
        instance,
        files: {
          ...files,
          certificate: paths.certificate,
          privateKey: paths.privateKey,
          managementSocket: paths.managementSocket,
          pidFile: paths.pidFile,
        },
        proxyPool: this.options.proxyPool,
        maxClients: 4096,
      }),
      { mode: 0o600 },
    );
    const child = this.options.commands.start(["openvpn", "--config", paths.config]);
    const state: Running = {
      process: child,
      client: new ManagementClient((event) =>
        this.options.onEvent(instance.index, event, state.client),
      ),
    };
    this.running.set(instance.index, state);
    void child.exited.then((end) => this.exited(instance, state, exitReason(end)));

    const opened = await waitFor(fileExists(paths.managementSocket), {
      timeoutMs: 10_000,
      giveUpIf: () => child.end !== null,
    });
    if (!opened)
      throw new Error(
        `OpenVPN server ${instance.index} did not open its management socket:\n${tailOf(child)}`,
      );
    await state.client.connect(paths.managementSocket);
    await state.client.bytecount(this.options.bytecountSeconds ?? 5);

    await state.client.holdRelease();
    this.options.log?.(
      `OpenVPN server ${instance.index} (${instance.protocol}/${instance.port}) running`,
    );
  }

  /**
   * A platform that died without stopping its servers leaves them running (with stale rules of
   * their own): stop the one recorded in the pid file, if it is ours, before starting anew.
   */
  private async stopOrphan(pidFile: string, config: string): Promise<void> {
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    rmSync(pidFile, { force: true });
    if (!Number.isInteger(pid) || pid <= 1) return;
    let commandLine = "";
    try {
      commandLine = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      return; // gone already
    }
    if (!commandLine.includes("openvpn") || !commandLine.includes(config)) return;
    this.options.log?.(
      `stopping OpenVPN server (pid ${pid}) left running by an earlier platform process`,
    );
    process.kill(pid, "SIGTERM");
    for (let i = 0; i < 60 && existsSync(`/proc/${pid}`); i++) await Bun.sleep(50);
    if (existsSync(`/proc/${pid}`)) process.kill(pid, "SIGKILL");
  }

  private async exited(instance: ServerInstance, state: Running, how: string) {
    state.client.close();
    if (this.stopping || this.running.get(instance.index) !== state) return;
    this.running.delete(instance.index);
    this.options.onCrash(instance.index, tailOf(state.process));
    const failures = (this.failures.get(instance.index) ?? 0) + 1;
    this.failures.set(instance.index, failures);
    const delay = Math.min(30_000, 500 * 2 ** (failures - 1));
    this.options.log?.(
      `OpenVPN server ${instance.index} exited (${how}); restarting in ${delay} ms`,
    );
    await Bun.sleep(delay);
    if (this.stopping) return;
    try {
      await this.startOne(instance);
      this.failures.set(instance.index, 0);
    } catch (error) {
      this.options.log?.(`OpenVPN server ${instance.index} failed to restart: ${String(error)}`);
      const failed = this.running.get(instance.index);
      if (failed) await stopProcess(failed.process, { graceMs: 1000 });
    }
  }

  /** Ends one connection ("<instance>:<client id>"). */
  async disconnect(connection: string): Promise<void> {
    const [index, cid] = connection.split(":").map(Number);
    const running = this.running.get(index ?? -1);
    if (running && cid !== undefined) await running.client.kill(cid);
  }

  /** The process of a running server (tests use it to crash one). */
  processOf(index: number): ProcessHandle | null {
    return this.running.get(index)?.process ?? null;
  }

  /** Stops every server: SIGTERM, then SIGKILL after 3 s. */
  async stop(): Promise<void> {
    this.stopping = true;
    const all = [...this.running.values()];
    this.running.clear();
    for (const running of all) running.client.close();
    await Promise.all(all.map((r) => stopProcess(r.process, { graceMs: 3000 })));
  }
}
