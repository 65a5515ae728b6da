// Tunnel addresses inside each OpenVPN server's network, unique among open sessions.
import { type Cidr, formatIpv4, parseIpv4, subBlock } from "@meetpoint/common";
import { and, eq, ne, sql } from "drizzle-orm";
import { type Db, gatewaySessions, remoteSessions } from "../db/index.ts";
import { StateError } from "../shared/index.ts";

/** Each OpenVPN server instance gets the index-th /20 of the tunnel pool. */
export function instanceNetwork(tunnelPool: Cidr, index: number): Cidr {
  const network = subBlock(tunnelPool, 20, index);
  if (!network) throw new Error(`tunnel pool has no /20 for OpenVPN server ${index}`);
  return network;
}

const TUNNEL_LOCK = 0x74756e6e;

/**
 * The lowest free address of the instance's network (the first is the server's own). Call inside
 * the transaction that stores the session: the lock keeps two requests from taking the same one.
 */
export async function allocateTunnelAddress(
  tx: Db,
  instance: number,
  network: Cidr,
): Promise<string> {
  await tx.execute(sql`select pg_advisory_xact_lock(${TUNNEL_LOCK})`);
  const [gateways, technicians] = await Promise.all([
    tx
      .select({ address: gatewaySessions.tunnelAddress })
      .from(gatewaySessions)
      .where(and(eq(gatewaySessions.vpnInstance, instance), ne(gatewaySessions.state, "closed"))),
    tx
      .select({ address: remoteSessions.tunnelAddress })
      .from(remoteSessions)
      .where(and(eq(remoteSessions.vpnInstance, instance), ne(remoteSessions.state, "ended"))),
  ]);
  const taken = new Set([...gateways, ...technicians].map((row) => parseIpv4(row.address)));
  const size = 2 ** (32 - network.prefix);
  for (let offset = 2; offset < size - 1; offset++) {
    if (!taken.has(network.base + offset)) return formatIpv4(network.base + offset);
  }
  throw new StateError(
    "ERR_TUNNEL_POOL_EXHAUSTED",
    "All tunnel addresses of this OpenVPN server are in use; try again when a session ends.",
  );
}
