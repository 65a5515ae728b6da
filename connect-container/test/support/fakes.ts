// Stand-ins for the agent's side effects in unit tests: a platform that signs real envelopes with a
// test key, a VPN that comes up when told, a firewall that records what it was given.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type EnvelopeBody,
  type EnvelopeKind,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type HttpProxy,
  type PublicJwk,
  type RequestDecision,
  type RequestDecisionResponse,
  type SshEvent,
  signEnvelope,
} from "@meetpoint/common";
import { Agent } from "../../src/agent/agent.ts";
import { EventLog } from "../../src/agent/events.ts";
import { ControlError, type ControlPort } from "../../src/control/client.ts";
import type { FirewallPort } from "../../src/firewall/kernel.ts";
import type { ForwardedService, GatewayFirewall } from "../../src/firewall/ruleset.ts";
import type { SshDesired, SshPort } from "../../src/ssh/server.ts";
import { Store } from "../../src/state/store.ts";
import { uiCertificate } from "../../src/ui/tls.ts";
import type { TunnelHandlers, TunnelOptions, VpnPort } from "../../src/vpn/openvpn.ts";

export interface PlatformKeys {
  privateKey: CryptoKey;
  jwk: PublicJwk;
}

export async function platformKeys(): Promise<PlatformKeys> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
  return { privateKey: pair.privateKey, jwk: { kty, crv, x, y } as PublicJwk };
}

let version = 100;

export function sign<K extends EnvelopeKind>(
  keys: PlatformKeys,
  kind: K,
  audience: string,
  body: EnvelopeBody<K>,
  options: { version?: number; issuedAt?: Date; validMs?: number } = {},
): Promise<string> {
  const issuedAt = options.issuedAt ?? new Date();
  return signEnvelope(keys.privateKey, {
    kind,
    audience,
    version: options.version ?? ++version,
    issuedAt,
    expiresAt: new Date(issuedAt.getTime() + (options.validMs ?? 600_000)),
    body,
  });
}

let caPem: string | null = null;

/** A real (self-signed) certificate to pin, made once per test run. */
async function testCaPem(): Promise<string> {
  if (!caPem) {
    const dir = mkdtempSync(join(tmpdir(), "meetpoint-ca-"));
    caPem = `${(await uiCertificate(dir)).cert.trim()}\n`;
    rmSync(dir, { recursive: true, force: true });
  }
  return caPem;
}

export async function bundle(
  keys: PlatformKeys,
  gatewayId: string,
  options: {
    version?: number;
    issuedAt?: Date;
    validMs?: number;
    signingKey?: PublicJwk;
    proxy?: EnvelopeBody<"enrollment">["proxy"];
    names?: { gatewayName: string; siteName: string; customerName: string };
    platformUrl?: string;
  } = {},
): Promise<string> {
  return await sign(
    keys,
    "enrollment",
    gatewayId,
    {
      platformUrl: options.platformUrl ?? "https://platform.lab.test:8443",
      gatewayId,
      secret: "s".repeat(43),
      caCertificates: await testCaPem(),
      signingKey: options.signingKey ?? keys.jwk,
      ...(options.proxy ? { proxy: options.proxy } : {}),
      ...options.names,
    },
    options,
  );
}

/** A platform that answers like the real one, with envelopes signed by `keys`. */
export class FakeControl implements ControlPort {
  heartbeats: HeartbeatRequest[] = [];
  disconnects = 0;
  reachable = true;
  /** What the next data-channel request returns; by default a good envelope for `gatewayId`. */
  nextEnvelope: ((gatewaySessionId: string) => Promise<string>) | null = null;
  refuseReconnect: string | null = null;
  /** Refuses (409) a data channel armed for a maintenance window, with this message. */
  refuseWindow: string | null = null;
  /** The transport each data-channel request asked for. */
  transports: string[] = [];
  /** The maintenance window each data-channel request named (null: the operator's Connect). */
  windowIds: (string | null)[] = [];
  /** The window each Disconnect report named (null: the operator's). */
  disconnectWindows: (string | null)[] = [];
  answer: Omit<HeartbeatResponse, "serverTime"> = {
    dataChannel: null,
    remoteSessions: [],
    maintenanceSessions: [],
    settings: null,
  };
  private queue: string[] = [];
  private wake: (() => void) | null = null;

  constructor(
    private readonly keys: PlatformKeys,
    private readonly gatewayId: string,
  ) {}

  async heartbeat(report: HeartbeatRequest): Promise<HeartbeatResponse> {
    if (!this.reachable) throw new ControlError("no route to the platform", "unreachable");
    this.heartbeats.push(report);
    return { serverTime: new Date().toISOString(), ...this.answer };
  }

  /** Whether the agent's long-poll is waiting right now. */
  get polling(): boolean {
    return this.wake !== null;
  }

  async commands(cursor: number, _wait: number, signal?: AbortSignal) {
    if (this.queue.length === 0)
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        signal?.addEventListener("abort", () => resolve());
      });
    this.wake = null;
    const commands = this.queue.splice(0);

    return { cursor: cursor + commands.length, commands };
  }

  /** Delivers a command envelope through the long-poll. */
  push(token: string): void {
    this.queue.push(token);
    this.wake?.();
    this.wake = null;
  }

  async dataChannel(
    reconnectOf: string | null,
    transport: "any" | "tcp" = "any",
    windowId?: string,
  ) {
    this.transports.push(transport);
    this.windowIds.push(windowId ?? null);
    if (windowId && this.refuseWindow) throw new ControlError(this.refuseWindow, "refused", 409);
    if (!this.reachable) throw new ControlError("no route to the platform", "unreachable");
    if (reconnectOf && this.refuseReconnect)
      throw new ControlError(this.refuseReconnect, "refused", 409);
    const gatewaySessionId = crypto.randomUUID();
    const envelope = this.nextEnvelope
      ? await this.nextEnvelope(gatewaySessionId)
      : await sign(this.keys, "data-channel", this.gatewayId, {
          gatewaySessionId,
          profile: "client\ndev tun\n",
        });
    return { envelope, gatewaySessionId };
  }

  async disconnect(_gatewaySessionId: string | null, windowId?: string) {
    this.disconnects++;
    this.disconnectWindows.push(windowId ?? null);
    return { closed: true };
  }

  /** The operator's decisions as reported, by request id. */
  decisions: { id: string; decision: RequestDecision }[] = [];

  async decide(id: string, decision: RequestDecision): Promise<RequestDecisionResponse> {
    if (!this.reachable) throw new ControlError("no route to the platform", "unreachable");
    const known = this.answer.pendingRequests?.find((r) => r.id === id);
    if (!known) throw new ControlError("Request not found", "refused", 404);
    this.decisions.push({ id, decision });
    this.answer = {
      ...this.answer,
      pendingRequests: this.answer.pendingRequests?.filter((r) => r.id !== id),
    };
    return {
      outcome: decision.decision === "allow" ? "granted" : "denied",
      message: decision.decision === "allow" ? "Allowed." : "Denied.",
    };
  }
}

export class FakeVpn implements VpnPort {
  profiles: string[] = [];
  options: TunnelOptions[] = [];
  handlers: TunnelHandlers | null = null;
  running = false;
  /** Bring the tunnel up as soon as it starts. */
  autoUp = true;

  async start(profile: string, handlers: TunnelHandlers, options: TunnelOptions = {}) {
    this.profiles.push(profile);
    this.options.push(options);
    this.handlers = handlers;
    this.running = true;
    if (this.autoUp) setTimeout(() => handlers.up("100.127.0.2"), 5);
  }

  async stop() {
    this.running = false;
  }

  async version() {
    return "2.6.14";
  }
}

/**
 * A firewall that records what it was asked; `failing` makes the next applies throw. With `kernel`
 * (the real one, in namespace tests) it records and passes everything on.
 */
export class FakeFirewall implements FirewallPort {
  applied: GatewayFirewall[] = [];
  forgotten: ForwardedService[][] = [];
  failing = 0;

  constructor(private readonly kernel: FirewallPort | null = null) {}

  async apply(model: GatewayFirewall) {
    if (this.failing > 0) {
      this.failing--;
      throw new Error("nft: Operation not permitted");
    }
    await this.kernel?.apply(model);
    this.applied.push(model);
  }

  async forgetFlows(services: ForwardedService[]) {
    await this.kernel?.forgetFlows(services);
    this.forgotten.push(services);
  }

  get last(): GatewayFirewall | undefined {
    return this.applied.at(-1);
  }
}

/** An SSH server that records what it was asked to do. */
export class FakeSsh implements SshPort {
  applied: SshDesired[] = [];
  onEvent: (event: SshEvent) => void = () => {};

  async apply(desired: SshDesired) {
    this.applied.push(desired);
  }

  async stop() {}

  get last(): SshDesired | undefined {
    return this.applied.at(-1);
  }

  get hostKey() {
    return this.last?.enabled ? "SHA256:fakehostkeyfakehostkeyfakehostkeyfakehostke" : null;
  }

  get listening() {
    return this.last?.enabled ? this.last.addresses : [];
  }
}

export interface TestAgent {
  agent: Agent;
  store: Store;
  events: EventLog;
  control: FakeControl;
  vpn: FakeVpn;
  firewall: FakeFirewall;
  ssh: SshPort;
  keys: PlatformKeys;
  gatewayId: string;
  dir: string;
  dispose(): Promise<void>;
}

/** An agent on a temporary state volume with fakes around it; enrolled unless told otherwise. */
export async function testAgent(
  options: {
    enrolled?: boolean;
    /** The real ones, for tests with nftables and dropbear in namespaces. */
    firewall?: FirewallPort;
    ssh?: SshPort;
    lanInterface?: string;
    lanAddresses?: string[];
    uiPorts?: number[];
    proxy?: () => HttpProxy | null;
    /** The request lamp's file (relative: inside the agent's temporary directory). */
    lampPath?: string;
  } = {},
): Promise<TestAgent> {
  const dir = mkdtempSync(join(tmpdir(), "meetpoint-agent-"));
  const keys = await platformKeys();
  const gatewayId = crypto.randomUUID();
  const store = new Store(join(dir, "state"));
  const events = new EventLog(null);
  const control = new FakeControl(keys, gatewayId);
  const vpn = new FakeVpn();
  const firewall = new FakeFirewall(options.firewall ?? null);
  const ssh = options.ssh ?? new FakeSsh();
  const agent = new Agent({
    store,
    events,
    control,
    vpn,
    firewall,
    ssh,
    lanInterface: options.lanInterface ?? "eth1",
    lanAddresses: async () => [...(options.lanAddresses ?? ["192.168.0.1"])],
    uiPorts: options.uiPorts ?? [443, 80],
    proxy: options.proxy,
    importDir: join(dir, "import"),
    heartbeatMs: 60_000,
    lampPath: options.lampPath ? join(dir, options.lampPath) : null,
  });
  await agent.start();
  if (options.enrolled !== false) {
    const result = await agent.importBundle(await bundle(keys, gatewayId), "test");
    if (!result.ok) throw new Error(result.reason);
  }
  return {
    agent,
    store,
    events,
    control,
    vpn,
    firewall,
    ssh,
    keys,
    gatewayId,
    dir,
    dispose: async () => {
      await agent.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
