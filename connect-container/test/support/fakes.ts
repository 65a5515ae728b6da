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
  type PublicJwk,
  signEnvelope,
} from "@meetpoint/common";
import { Agent } from "../../src/agent/agent.ts";
import { EventLog } from "../../src/agent/events.ts";
import { ControlError, type ControlPort } from "../../src/control/client.ts";
import type { FirewallPort } from "../../src/firewall/kernel.ts";
import type { ForwardedService, GatewayFirewall } from "../../src/firewall/ruleset.ts";
import { Store } from "../../src/state/store.ts";
import { uiCertificate } from "../../src/ui/tls.ts";
import type { TunnelHandlers, VpnPort } from "../../src/vpn/openvpn.ts";

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
  answer: Omit<HeartbeatResponse, "serverTime"> = { dataChannel: null, remoteSessions: [] };
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

  async dataChannel(reconnectOf: string | null) {
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

  async disconnect(_gatewaySessionId: string | null) {
    this.disconnects++;
    return { closed: true };
  }
}

export class FakeVpn implements VpnPort {
  profiles: string[] = [];
  handlers: TunnelHandlers | null = null;
  running = false;
  /** Bring the tunnel up as soon as it starts. */
  autoUp = true;

  async start(profile: string, handlers: TunnelHandlers) {
    this.profiles.push(profile);
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

/** A firewall that records what it was asked; `failing` makes the next applies throw. */
export class FakeFirewall implements FirewallPort {
  applied: GatewayFirewall[] = [];
  forgotten: ForwardedService[][] = [];
  failing = 0;

  async apply(model: GatewayFirewall) {
    if (this.failing > 0) {
      this.failing--;
      throw new Error("nft: Operation not permitted");
    }
    this.applied.push(model);
  }

  async forgetFlows(services: ForwardedService[]) {
    this.forgotten.push(services);
  }

  get last(): GatewayFirewall | undefined {
    return this.applied.at(-1);
  }
}

export interface TestAgent {
  agent: Agent;
  store: Store;
  events: EventLog;
  control: FakeControl;
  vpn: FakeVpn;
  firewall: FakeFirewall;
  keys: PlatformKeys;
  gatewayId: string;
  dir: string;
  dispose(): Promise<void>;
}

/** An agent on a temporary state volume with fakes around it; enrolled unless told otherwise. */
export async function testAgent(options: { enrolled?: boolean } = {}): Promise<TestAgent> {
  const dir = mkdtempSync(join(tmpdir(), "meetpoint-agent-"));
  const keys = await platformKeys();
  const gatewayId = crypto.randomUUID();
  const store = new Store(join(dir, "state"));
  const events = new EventLog(null);
  const control = new FakeControl(keys, gatewayId);
  const vpn = new FakeVpn();
  const firewall = new FakeFirewall();
  const agent = new Agent({
    store,
    events,
    control,
    vpn,
    firewall,
    lanInterface: "eth1",
    importDir: join(dir, "import"),
    heartbeatMs: 60_000,
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
    keys,
    gatewayId,
    dir,
    dispose: async () => {
      await agent.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
