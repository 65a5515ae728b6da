// Supervises the platform's OpenVPN servers: writes their configuration, starts them (bound to the
// platform's life), attaches to their management sockets, restarts a crashed one with back-off
// until it runs again, renews their certificates, and counts the handshakes they refuse.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
import type { RefusedHandshakes, ServerState } from "../sessions/index.ts";
import type { CommandRunner } from "../system/index.ts";
import { HandshakeRefusals } from "./refusals.ts";
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
  /** A server's process ended (crashed, or restarted for its certificate): its connections are gone. */
  onCrash: (instance: number, output: string) => void;
  /** How often servers report each connection's traffic, in seconds; default 5. */
  bytecountSeconds?: number;
  /** How often each tunnel's keys are renewed (reneg-sec), in seconds; default 3600. */
  renegotiateSeconds?: number;
  log?: (line: string) => void;
}

interface Running {
  process: ProcessHandle;
  client: ManagementClient;
  since: Date;
  certificateNotAfter: Date;
  /** Set once it started: until then a failure is startOne's to report, not a crash. */
  started: boolean;
}

/** The last lines a server printed: enough to say why it stopped. */
const tailOf = (process: ProcessHandle) => process.tail().slice(-40).join("\n");

/** Server certificates live 90 days and are renewed when 30 are left (urgently: 7). */
const SERVER_CERT_SECONDS = 90 * 86_400;
const RENEW_WHEN_IDLE_MS = 30 * 86_400_000;
const RENEW_ANYWAY_MS = 7 * 86_400_000;

export class VpnServers {
  private running = new Map<number, Running>();
  private restarting = new Map<number, { attempt: number; lastError: string; since: Date }>();
  private stopping = false;
  private readonly refusals: HandshakeRefusals;

  constructor(
    private readonly options: VpnServersOptions,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.refusals = new HandshakeRefusals(now);
  }

  /** Handshakes the servers refused at the TLS level since they started, by cause. */
  get refused(): RefusedHandshakes {
    return this.refusals.counts;
  }

  async start(): Promise<void> {
    mkdirSync(this.options.dir, { recursive: true, mode: 0o700 });
    for (const instance of this.options.instances) await this.startOne(instance);
  }

  /**
   * Starts one server with a fresh certificate. On failure nothing of it is left running and the
   * error says why (the server's last lines).
   */
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
        renegotiateSeconds: this.options.renegotiateSeconds,
      }),
      { mode: 0o600 },
    );
    // The server dies with the platform process, even with kill -9: no tunnel ever forwards
    // without the platform deciding.
    const child = this.options.commands.start(["openvpn", "--config", paths.config], {
      diesWithParent: true,
      onLine: (line) => this.refusals.notice(line),
    });
    const state: Running = {
      process: child,
      client: new ManagementClient((event) =>
        this.options.onEvent(instance.index, event, state.client),
      ),
      since: this.now(),
      certificateNotAfter: certificate.notAfter,
      started: false,
    };
    this.running.set(instance.index, state);
    void child.exited.then((end) => this.exited(instance, state, exitReason(end)));
    try {
      const opened = await waitFor(fileExists(paths.managementSocket), {
        timeoutMs: 10_000,
        giveUpIf: () => child.end !== null,
      });
      if (!opened) throw new Error(`it did not open its management socket:\n${tailOf(child)}`);
      chmodSync(paths.managementSocket, 0o600);
      await state.client.connect(paths.managementSocket);
      await state.client.bytecount(this.options.bytecountSeconds ?? 5);
      const released = await state.client.holdRelease();
      if (!released.ok) throw new Error(`hold release refused: ${released.text}`);
    } catch (error) {
      this.running.delete(instance.index);
      state.client.close();
      await stopProcess(child, { graceMs: 1000 });
      throw new Error(
        `OpenVPN server ${instance.index} did not start: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    state.started = true;
    if (child.end) {
      // It died between the hold release and now: a crash like any other.
      this.exited(instance, state, exitReason(child.end));
      return;
    }
    this.restarting.delete(instance.index);
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
    const gone = await waitFor(() => !existsSync(`/proc/${pid}`), { timeoutMs: 3000 });
    if (!gone) process.kill(pid, "SIGKILL");
  }

  private exited(instance: ServerInstance, state: Running, how: string): void {
    state.client.close();
    if (!state.started || this.stopping || this.running.get(instance.index) !== state) return;
    this.running.delete(instance.index);
    this.options.onCrash(instance.index, tailOf(state.process));
    void this.restart(instance, `exited (${how})`);
  }

  /** Starts a server again after back-off (0.5 s doubling to 30 s) until it runs or all stop. */
  private async restart(instance: ServerInstance, why: string): Promise<void> {
    let lastError = why;
    const since = this.now();
    for (let attempt = 1; !this.stopping; attempt++) {
      const delay = Math.min(30_000, 500 * 2 ** (attempt - 1));
      this.restarting.set(instance.index, { attempt, lastError, since });
      this.options.log?.(
        `OpenVPN server ${instance.index}: ${lastError}; restarting in ${delay} ms (attempt ${attempt})`,
      );
      await Bun.sleep(delay);
      if (this.stopping) return;
      try {
        await this.startOne(instance);
        return;
      } catch (error) {
        lastError = (error as Error).message;
      }
    }
  }

  /**
   * Renews server certificates: a server whose certificate has less than 30 days left is started
   * again with a new one as soon as it carries no connection — or, with less than 7 days left,
   * regardless (its tunnels reconnect: gateways by themselves, technicians with a new config).
   */
  async renewCertificates(connectionsOn: (index: number) => number): Promise<void> {
    const now = this.now().getTime();
    for (const instance of this.options.instances) {
      const running = this.running.get(instance.index);
      if (!running) continue;
      const left = running.certificateNotAfter.getTime() - now;
      if (left >= RENEW_WHEN_IDLE_MS) continue;
      if (left >= RENEW_ANYWAY_MS && connectionsOn(instance.index) > 0) continue;
      this.options.log?.(
        `OpenVPN server ${instance.index}: certificate ends ${running.certificateNotAfter.toISOString()}; restarting it with a new one`,
      );
      this.running.delete(instance.index);
      running.client.close();
      await stopProcess(running.process, { graceMs: 3000 });
      this.options.onCrash(instance.index, "restarted for a new certificate");
      try {
        await this.startOne(instance);
      } catch (error) {
        void this.restart(instance, (error as Error).message);
      }
    }
  }

  /** Each configured server: running (since, certificate end), restarting (attempt, error) or stopped. */
  states(): ServerState[] {
    return this.options.instances.map((instance) => {
      const running = this.running.get(instance.index);
      if (running?.started)
        return {
          index: instance.index,
          state: "running",
          since: running.since,
          certificateNotAfter: running.certificateNotAfter,
        };
      const restarting = this.restarting.get(instance.index);
      if (restarting) return { index: instance.index, state: "restarting", ...restarting };
      return { index: instance.index, state: "stopped" };
    });
  }

  /** Ends one connection ("<instance>:<client id>"); an unknown one is no error. */
  async disconnect(connection: string): Promise<void> {
    const [index, cid] = connection.split(":").map(Number);
    const running = this.running.get(index ?? -1);
    if (!running || cid === undefined) return;
    const answer = await running.client.kill(cid);
    // "ERROR: client-kill command failed" means no such client (gone already): fine. A server that
    // does not answer at all may still carry it.
    if (!answer.ok && answer.text.startsWith("no answer"))
      throw new Error(`OpenVPN server ${index} did not end connection ${cid}: ${answer.text}`);
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
