// The two ports between the session rules and the kernel side: the DataPlane the sessions drive
// (firewall grants, conntrack, OpenVPN connections) and the ConnectionHandler the data plane asks
// about every OpenVPN connection. The real data plane lives in vpn/; tests use the recording fake.
import type { Cidr } from "@meetpoint/common";
import type { Grant } from "../firewall/index.ts";

export type DataPlaneStatus = { on: true } | { on: false; reason: string };

/** One OpenVPN server process of the data plane. */
export interface ServerInstance {
  /** 0, 1, …: names the tun device (meetpoint-vpn<index>) and the management socket. */
  index: number;
  protocol: "tcp" | "udp";
  /** Address to listen on; null for all. */
  listenAddress: string | null;
  port: number;
  /** This instance's share of the tunnel pool; the server takes its first address. */
  tunnelNetwork: Cidr;
}

export interface DataPlane {
  status(): DataPlaneStatus;
  /** The OpenVPN servers sessions are spread over. */
  readonly instances: ServerInstance[];
  /** Adds and removes firewall grants in one transaction; removing an absent grant is no error. */
  changeGrants(add: Grant[], remove: Grant[]): Promise<void>;
  /** Deletes conntrack entries between these addresses, so established flows stop too. */
  forgetFlows(flows: { technicianAddress: string; proxyAddress: string }[]): Promise<void>;
  /** Ends an OpenVPN connection ("<instance>:<client id>"); an unknown one is no error. */
  disconnect(connection: string): Promise<void>;
  /** Routes a gateway's proxy block (CIDR) into the tun device of `instance`; null removes the route. */
  routeProxyBlock(block: string, instance: number | null): Promise<void>;
  /**
   * Translates a workstation's proxy address to its tunnel address (it is online); null stops
   * translating it. Idempotent.
   */
  translateWorkstation(proxyAddress: string, tunnelAddress: string | null): Promise<void>;
  /** Packets and bytes seen per grant (key: grantElement). */
  grantCounters(): Promise<Map<string, { packets: number; bytes: number }>>;
  /**
   * Fail closed without the database: every grant removed, every tunnel flow forgotten, every
   * OpenVPN client connection ended — using only what the kernel and the servers know.
   */
  cutAll(): Promise<void>;
  /** What admins see on the status page: servers, refused handshakes, the revocation list. */
  health(): DataPlaneHealth;
}

/** One OpenVPN server as the status page shows it. */
export type ServerState =
  | { index: number; state: "running"; since: Date; certificateNotAfter: Date }
  | { index: number; state: "restarting"; attempt: number; lastError: string; since: Date }
  | { index: number; state: "stopped" };

/** Handshakes the servers refused before the platform was asked (at the TLS level), by cause. */
export interface RefusedHandshakes {
  total: number;
  byCause: Record<string, number>;
  last: { at: Date; line: string } | null;
}

export interface DataPlaneHealth {
  servers: ServerState[];
  refusedHandshakes: RefusedHandshakes;
  /** The CRL every connection is checked against: usable, or why not and since when. */
  revocationList: { ok: true } | { ok: false; problem: string; since: Date };
}

/** What the platform answers an OpenVPN connection: its per-client config, or why not. */
export type ConnectionDecision =
  | { allow: true; config: string[] }
  | { allow: false; reason: string };

/** What the data plane asks of the session rules; connections are "<instance>:<client id>". */
export interface ConnectionHandler {
  /** CLIENT:CONNECT and CLIENT:REAUTH: allow with a per-client config, or refuse. */
  decide(connection: string, serial: string): Promise<ConnectionDecision>;
  /** CLIENT:DISCONNECT. */
  closed(connection: string): Promise<void>;
  /** BYTECOUNT_CLI: traffic totals of a connection. */
  countBytes(connection: string, bytesIn: number, bytesOut: number): Promise<void>;
  /** An OpenVPN server crashed: its connections are gone, so are their sessions. */
  serverLost(instance: number): Promise<void>;
  /** The grants the firewall must hold when the data plane starts. */
  activeGrants(): Promise<Grant[]>;
}

/** A data plane that records what it was asked to do: for tests of the session rules. */
export class RecordingDataPlane implements DataPlane {
  grants = new Map<string, Grant>();
  forgotten: { technicianAddress: string; proxyAddress: string }[] = [];
  disconnected: string[] = [];
  counters = new Map<string, { packets: number; bytes: number }>();
  routes = new Map<string, number>();
  cuts = 0;

  constructor(
    readonly instances: ServerInstance[],
    private readonly state: DataPlaneStatus = { on: true },
    private readonly key: (grant: Grant) => string = (g) =>
      `${g.technicianAddress} . ${g.proxyAddress} . ${g.protocol} . ${g.port}`,
  ) {}

  status(): DataPlaneStatus {
    return this.state;
  }

  async changeGrants(add: Grant[], remove: Grant[]): Promise<void> {
    for (const grant of remove) this.grants.delete(this.key(grant));
    for (const grant of add) this.grants.set(this.key(grant), grant);
  }

  async forgetFlows(flows: { technicianAddress: string; proxyAddress: string }[]): Promise<void> {
    this.forgotten.push(...flows);
  }

  async disconnect(connection: string): Promise<void> {
    this.disconnected.push(connection);
  }

  async routeProxyBlock(block: string, instance: number | null): Promise<void> {
    if (instance === null) this.routes.delete(block);
    else this.routes.set(block, instance);
  }

  /** Proxy address → tunnel address of online workstations. */
  workstations = new Map<string, string>();

  async translateWorkstation(proxyAddress: string, tunnelAddress: string | null): Promise<void> {
    if (tunnelAddress === null) this.workstations.delete(proxyAddress);
    else this.workstations.set(proxyAddress, tunnelAddress);
  }

  /** Like the kernel's set: every grant it holds, counted (zero unless a test set `counters`). */
  async grantCounters(): Promise<Map<string, { packets: number; bytes: number }>> {
    if (this.countersUnreadable) throw new Error("nft: the set cannot be listed");
    return new Map(
      [...this.grants.keys()].map((key) => [
        key,
        this.counters.get(key) ?? { packets: 0, bytes: 0 },
      ]),
    );
  }

  /** Tests set this to make grantCounters() fail. */
  countersUnreadable = false;

  async cutAll(): Promise<void> {
    this.cuts++;
    this.grants.clear();
  }

  /** What health() answers; tests set it (default: every server stopped, nothing refused). */
  healthState: DataPlaneHealth | null = null;

  health(): DataPlaneHealth {
    return (
      this.healthState ?? {
        servers: this.instances.map((i) => ({ index: i.index, state: "stopped" })),
        refusedHandshakes: { total: 0, byCause: {}, last: null },
        revocationList: { ok: true },
      }
    );
  }
}
