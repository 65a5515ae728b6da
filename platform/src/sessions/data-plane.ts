// What sessions need from the kernel and the OpenVPN servers, behind one interface: the real one
// drives nft, conntrack and the management sockets; tests of the session rules use a fake.
import type { Grant } from "../firewall/index.ts";
import type { ServerInstance } from "../vpn/server-config.ts";

export type DataPlaneStatus = { on: true } | { on: false; reason: string };

export interface DataPlane {
  status(): DataPlaneStatus;
  /** The OpenVPN servers sessions are spread over. */
  readonly instances: ServerInstance[];
  /** Adds and removes firewall grants in one transaction. */
  changeGrants(add: Grant[], remove: Grant[]): Promise<void>;
  /** Deletes conntrack entries between these addresses, so established flows stop too. */
  forgetFlows(flows: { technicianAddress: string; proxyAddress: string }[]): Promise<void>;
  /** Ends an OpenVPN connection ("<instance>:<client id>"). */
  disconnect(connection: string): Promise<void>;
  /** Routes a gateway's proxy block (CIDR) into the tun device of `instance`; null removes the route. */
  routeProxyBlock(block: string, instance: number | null): Promise<void>;
  /** Packets and bytes seen per grant (key: grantElement). */
  grantCounters(): Promise<Map<string, { packets: number; bytes: number }>>;
  /**
   * Fail closed without the database: every grant removed, every tunnel flow forgotten, every
   * OpenVPN client connection ended — using only what the kernel and the servers know.
   */
  cutAll(): Promise<void>;
}

/** A data plane that records what it was asked to do: for tests of the session rules. */
export class RecordingDataPlane implements DataPlane {
  grants = new Map<string, Grant>();
  forgotten: { technicianAddress: string; proxyAddress: string }[] = [];
  disconnected: string[] = [];
  counters = new Map<string, { packets: number; bytes: number }>();

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

  routes = new Map<string, number>();

  async routeProxyBlock(block: string, instance: number | null): Promise<void> {
    if (instance === null) this.routes.delete(block);
    else this.routes.set(block, instance);
  }

  async grantCounters(): Promise<Map<string, { packets: number; bytes: number }>> {
    return this.counters;
  }

  cuts = 0;

  async cutAll(): Promise<void> {
    this.cuts++;
    this.grants.clear();
  }
}
