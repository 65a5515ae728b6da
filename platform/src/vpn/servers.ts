// Supervises the platform's OpenVPN servers: writes their configuration, starts them, attaches to
// their management sockets, and restarts a crashed one with back-off.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";

import { join } from "node:path";
import type { Cidr } from "@meetpoint/common";
import { ManagementClient, type ManagementEvent } from "@meetpoint/common";
import type { Subprocess } from "bun";
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
  process: Subprocess<"ignore", "pipe", "pipe">;
  client: ManagementClient;
  output: string;
}

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
      output: "",
    };
    this.running.set(instance.index, state);
    void this.collect(child.stdout, state);
    void this.collect(child.stderr, state);
    void child.exited.then((code) => this.exited(instance, state, code));

    const deadline = Date.now() + 10_000;
    while (!existsSync(paths.managementSocket)) {
      if (Date.now() > deadline || child.exitCode !== null) {
        throw new Error(
          `OpenVPN server ${instance.index} did not open its management socket:\n${state.output.slice(-2000)}`,
        );
      }
      await Bun.sleep(25);
    }
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

  private async collect(stream: ReadableStream<Uint8Array>, state: Running) {
    const reader = stream.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      // Keep the tail only: enough to say why a server stopped.
      state.output = (state.output + decoder.decode(value, { stream: true })).slice(-20_000);
    }
  }

  private async exited(instance: ServerInstance, state: Running, code: number | null) {
    state.client.close();
    if (this.stopping || this.running.get(instance.index) !== state) return;
    this.running.delete(instance.index);
    this.options.onCrash(instance.index, state.output.slice(-2000));
    const failures = (this.failures.get(instance.index) ?? 0) + 1;
    this.failures.set(instance.index, failures);
    const delay = Math.min(30_000, 500 * 2 ** (failures - 1));
    this.options.log?.(
      `OpenVPN server ${instance.index} exited (code ${code}); restarting in ${delay} ms`,
    );
    await Bun.sleep(delay);
    if (this.stopping) return;
    try {
      await this.startOne(instance);
      this.failures.set(instance.index, 0);
    } catch (error) {
      this.options.log?.(`OpenVPN server ${instance.index} failed to restart: ${String(error)}`);
      void this.exited(instance, { ...state, process: state.process }, null);
    }
  }

  /** Ends one connection ("<instance>:<client id>"). */
  async disconnect(connection: string): Promise<void> {
    const [index, cid] = connection.split(":").map(Number);
    const running = this.running.get(index ?? -1);
    if (running && cid !== undefined) await running.client.kill(cid);
  }

  /** The process of a running server (tests use it to crash one). */
  processOf(index: number): Subprocess | null {
    return this.running.get(index)?.process ?? null;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const running of this.running.values()) {
      running.client.close();
      running.process.kill("SIGTERM");
    }
    await Promise.all(
      [...this.running.values()].map((r) => Promise.race([r.process.exited, Bun.sleep(3000)])),
    );
    for (const running of this.running.values())
      if (running.process.exitCode === null) running.process.kill("SIGKILL");
    this.running.clear();
  }
}
