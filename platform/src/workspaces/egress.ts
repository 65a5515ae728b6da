// A workspace's egress allow-list (its "network security group"): parsed from the form's lines,
// and the nftables ruleset the workspace's network namespace loads, rendered by a pure function.
import type { EgressEntry } from "../db/index.ts";
import { ValidationError } from "../shared/index.ts";
import {
  destinationRefusal,
  type Network,
  networkText,
  parseNetwork,
  unmapped,
} from "./addresses.ts";

export type { EgressEntry };

/** The table the workspace's ruleset lives in (inside the workspace's own network namespace). */
export const WORKSPACE_TABLE = "meetpoint_workspace";
/** The port the platform's relay reaches the workspace's VNC server on. */
export const VNC_PORT = 5900;
/** The VNC server's own user in the workspace image (workspace/Dockerfile: user vnc). */
export const VNC_UID = 1001;
/**
 * The TUN device of strongSwan's userspace IPsec (kernel-libipsec), which a workspace without
 * kernel ESP uses (workspace/src/vpn.ts, LIBIPSEC_TUN): cleartext to the customer leaves through it.
 */
export const IPSEC_TUN = "ipsec0";
/** Entries an allow-list may hold. */
export const ALLOW_LIST_MAX = 200;
/**
 * Addresses the "direct" entries of one allow-list may open on the uplink, outside the customer's
 * VPN, all together (overlaps counted twice): one /8 of IPv4, one /32 of IPv6. Each line is
 * checked alone as well (no catch-all), but 200 lines of /8 would be most of the Internet.
 */
export const DIRECT_MAX = { 4: 2n ** 24n, 6: 2n ** 96n } as const;

/**
 * Parses the allow-list form field: one entry a line, "<IP or CIDR> <tcp|udp|icmp> [port]
 * [direct]"; empty lines and #-comments are skipped. tcp/udp without a port allow every port; icmp
 * takes none. An entry is reached only through the customer's tunnel unless it ends in "direct"
 * (then also on the uplink, outside the VPN). Throws a ValidationError on "allowList" naming the
 * line.
 */
export function parseAllowList(text: string): EgressEntry[] {
  const entries: EgressEntry[] = [];
  for (const [index, raw] of text.replace(/\r\n?/g, "\n").split("\n").entries()) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) continue;
    const at = `line ${index + 1}`;
    const words = line.split(/\s+/);
    const direct = words.at(-1) === "direct";
    if (direct) words.pop();
    const [destination = "", protocol = "", port, extra] = words;
    if (extra !== undefined)
      throw new ValidationError(
        "allowList",
        `${at}: write "<address or CIDR> <tcp|udp|icmp> [port] [direct]"`,
      );
    entries.push(checkEntry({ destination, protocol, port: port ?? null, direct }, at));
  }
  if (entries.length > ALLOW_LIST_MAX)
    throw new ValidationError("allowList", `at most ${ALLOW_LIST_MAX} entries`);
  const refusal = directRefusal(entries);
  if (refusal) throw new ValidationError("allowList", refusal);
  return entries;
}

/**
 * Why the "direct" entries of `entries` together open too much (DIRECT_MAX), or null. IPv4-mapped
 * IPv6 entries count as the IPv4 they map to.
 */
export function directRefusal(entries: EgressEntry[]): string | null {
  const direct = { 4: 0n, 6: 0n };
  for (const e of entries) {
    const parsed = e.direct ? parseNetwork(e.destination) : null;
    if (!parsed) continue;
    const n = unmapped(parsed);
    direct[n.family] += 2n ** BigInt((n.family === 4 ? 32 : 128) - n.prefix);
  }
  for (const [family, size] of [
    [4, "/8"],
    [6, "/32"],
  ] as const)
    if (direct[family] > DIRECT_MAX[family])
      return `the "direct" entries together open ${direct[family]} IPv${family} addresses outside the customer's VPN, more than a ${size} (${DIRECT_MAX[family]}): list the hosts that need it`;
  return null;
}

/** Checks one entry; `at` says where it stands ("line 3"). Throws a ValidationError on "allowList". */
export function checkEntry(
  entry: { destination: unknown; protocol: unknown; port: unknown; direct?: unknown },
  at: string,
): EgressEntry {
  const destination = typeof entry.destination === "string" ? entry.destination : "";
  const network = parseNetwork(destination);
  if (!network)
    throw new ValidationError(
      "allowList",
      `${at}: "${destination.slice(0, 60)}" is not an IP address or CIDR (host bits zero)`,
    );
  const refusal = destinationRefusal(network);
  if (refusal)
    throw new ValidationError("allowList", `${at}: "${networkText(network)}" ${refusal}`);
  const protocol = entry.protocol;
  if (protocol !== "tcp" && protocol !== "udp" && protocol !== "icmp")
    throw new ValidationError("allowList", `${at}: the protocol must be tcp, udp or icmp`);
  let port: number | null = null;
  if (entry.port !== null && entry.port !== undefined && entry.port !== "") {
    if (protocol === "icmp") throw new ValidationError("allowList", `${at}: icmp has no port`);
    const text = String(entry.port);
    if (!/^[1-9]\d{0,4}$/.test(text) || Number(text) > 65535)
      throw new ValidationError("allowList", `${at}: the port must be 1–65535`);
    port = Number(text);
  }
  return {
    destination: networkText(network),
    protocol,
    port,
    ...(entry.direct === true ? { direct: true } : {}),
  };
}

/** The allow-list as the form shows it, one entry a line. */
export function allowListText(entries: EgressEntry[]): string {
  return entries
    .map((e) => [e.destination, e.protocol, e.port ?? "", e.direct ? "direct" : ""])
    .map((words) => words.filter((w) => w !== "").join(" "))
    .join("\n");
}

/** A VPN peer the workspace reaches on its uplink, its name already resolved to an address. */
export interface ResolvedEndpoint {
  address: string;
  protocol: "tcp" | "udp" | "esp";
  /** Null for esp. */
  port: number | null;
}

export interface EgressModel {
  /** The container's uplink interface (its Docker network), e.g. "eth0". */
  uplink: string;
  /** How the customer's VPN leaves the workspace: a tun device, or IPsec (kernel or userspace). */
  tunnel: "openvpn" | "ipsec";
  /** The VPN endpoints, resolved: always allowed on the uplink. */
  vpnEndpoints: ResolvedEndpoint[];
  /** The allow-list: further destinations on the uplink (DNS only when named here). */
  allowList: EgressEntry[];
  /** Where the platform's relay connects from: the only source allowed to VNC. */
  relayAddresses: string[];
  /** Where the supervisor posts its reports (the platform, over the uplink): TCP to this only. */
  report?: { address: string; port: number };
}

/** Docker's embedded DNS server in every container on a user-defined network (over loopback). */
export const DOCKER_DNS = "127.0.0.11";

/**
 * The DNS servers the allow-list names: single addresses it allows on port 53 (udp or tcp), in
 * order, once each. The workspace container's resolvers (Docker's `Dns`); none: the desktop user
 * may not ask Docker's DNS at all (renderEgressRuleset).
 */
export function dnsServers(allowList: EgressEntry[]): string[] {
  const servers = allowList
    .filter((e) => e.port === 53 && e.protocol !== "icmp")
    .map((e) => parseNetwork(e.destination))
    .filter((n): n is Network => n !== null && n.prefix === (n.family === 4 ? 32 : 128))
    .map((n) => n.address);
  return [...new Set(servers)];
}

const INTERFACE = /^[A-Za-z][A-Za-z0-9_.-]{0,14}$/;

function hostNetwork(address: string, what: string): Network {
  const network = parseNetwork(address);
  if (!network) throw new Error(`${what}: "${address.slice(0, 60)}" is not an address`);
  return network;
}

/** "ip daddr 10.0.0.0/8" or "ip6 daddr 2001:db8::/32". */
function match(direction: "saddr" | "daddr", network: Network): string {
  return `${network.family === 4 ? "ip" : "ip6"} ${direction} ${networkText(network)}`;
}

function l4(protocol: "tcp" | "udp" | "icmp" | "esp", port: number | null, family: 4 | 6): string {
  if (protocol === "icmp") return `meta l4proto ${family === 4 ? "icmp" : "ipv6-icmp"}`;
  if (protocol === "esp") return "meta l4proto esp";
  return port === null ? `meta l4proto ${protocol}` : `${protocol} dport ${port}`;
}

/**
 * The nftables script for the workspace's network namespace: table inet meetpoint_workspace,
 * replaced whole (the script deletes an older one first, in the same transaction). Output: policy
 * drop; loopback (Docker's DNS for root only unless the allow-list names a DNS server),
 * established/related, the VPN server's own user nothing, IPv6 neighbour discovery, the VPN
 * endpoints on the uplink (for root's sockets only, but IPsec's ESP and UDP 4500), the allow-list into the customer's tunnel and, for its "direct" entries
 * only, on the uplink too (a tun* device for OpenVPN; for
 * IPsec, packets a kernel IPsec policy will encrypt — rt ipsec exists — and packets into the TUN
 * device IPSEC_TUN of strongSwan's userspace IPsec, whose ESP leaves as charon's UDP 4500 to the
 * endpoint): the workspace reaches behind the customer's VPN only what the list names, whatever the
 * VPN routes. Input: policy drop; loopback, established/related (so answers from behind the VPN,
 * also those coming in decrypted through the TUN device), neighbour discovery, and TCP 5900 (VNC)
 * from the relay's addresses on the uplink: nothing behind the VPN opens a connection to the
 * workspace. Forward: policy drop, nothing. Pure; throws
 * on a malformed interface, address, protocol or port (a stored value never reaches nft unchecked).
 */
export function renderEgressRuleset(model: EgressModel): string {
  if (!INTERFACE.test(model.uplink)) throw new Error("uplink: not an interface name");
  const up = `oifname "${model.uplink}"`;
  const out: string[] = [];
  for (const endpoint of model.vpnEndpoints) {
    const network = hostNetwork(endpoint.address, "VPN endpoint");
    if (network.prefix !== (network.family === 4 ? 32 : 128))
      throw new Error("VPN endpoint: a single address expected");
    if (!["tcp", "udp", "esp"].includes(endpoint.protocol))
      throw new Error("VPN endpoint: protocol must be tcp, udp or esp");
    const port = endpoint.protocol === "esp" ? null : checkPort(endpoint.port);
    // The VPN client's own packets only (openvpn and charon run as root): the desktop user does
    // not reach the peer's address outside the tunnel (an SSL-VPN portal on the same port, say).
    // Not ESP and IPsec's UDP 4500: with kernel ESP the encrypted packets still carry the desktop
    // user's socket.
    const clientOnly = model.tunnel === "openvpn" || (endpoint.protocol === "udp" && port === 500);
    out.push(
      `    ${up} ${match("daddr", network)} ${l4(endpoint.protocol, port, network.family)}${clientOnly ? " meta skuid 0" : ""} accept comment "VPN endpoint${clientOnly ? " (VPN client only)" : ""}"`,
    );
  }
  // The allow-list holds on the uplink and inside the customer's tunnel alike: a tun* device for
  // OpenVPN; for IPsec, packets a kernel IPsec policy will encrypt (rt ipsec exists) and packets
  // routed into the TUN device of strongSwan's userspace IPsec (which one runs, the workspace
  // decides at start: both are written).
  const tunnels =
    model.tunnel === "openvpn" ? ['oifname "tun*"'] : ["rt ipsec exists", `oifname "${IPSEC_TUN}"`];
  const tooWide = directRefusal(model.allowList);
  if (tooWide) throw new Error(`allow-list: ${tooWide}`);
  for (const entry of model.allowList) {
    const checked = checkEntry(entry, "allow-list");
    const network = hostNetwork(checked.destination, "allow-list");
    const what = `${match("daddr", network)} ${l4(checked.protocol, checked.port, network.family)}`;
    // Outside the customer's VPN only when the entry says so: with the tunnel down, a machine
    // behind it must not be sought in the clear through the host's default route.
    if (checked.direct) out.push(`    ${up} ${what} accept comment "allow-list (direct)"`);
    for (const tunnel of tunnels)
      out.push(`    ${tunnel} ${what} accept comment "allow-list (customer VPN)"`);
  }
  if (model.report) {
    const network = hostNetwork(model.report.address, "report");
    out.push(
      // The supervisor's own sockets only (it runs as root; Xvnc and the desktop do not): that port
      // is usually the platform's HTTPS listener, which the desktop user must not reach.
      `    ${up} ${match("daddr", network)} tcp dport ${checkPort(model.report.port)} meta skuid 0 accept comment "platform report (supervisor only)"`,
    );
  }
  const relay = model.relayAddresses.map((address) => {
    const network = hostNetwork(address, "relay");
    return `    iifname "${model.uplink}" ${match("saddr", network)} tcp dport ${VNC_PORT} accept comment "platform relay"`;
  });
  // Docker's embedded DNS (127.0.0.11, over loopback) forwards to the Internet's resolvers unless
  // the container names its own: the desktop user asks it only when the allow-list names a server.
  const dockerDns =
    dnsServers(model.allowList).length > 0
      ? []
      : [
          `    oifname "lo" ip daddr ${DOCKER_DNS} meta skuid != 0 drop comment "Docker's DNS: the supervisor only (no DNS server in the allow-list)"`,
        ];
  const neighbour =
    "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept";
  return `${[
    `table inet ${WORKSPACE_TABLE}`,
    `delete table inet ${WORKSPACE_TABLE}`,
    `table inet ${WORKSPACE_TABLE} {`,
    "  chain output {",
    "    type filter hook output priority filter; policy drop;",
    ...dockerDns,
    '    oifname "lo" accept',
    "    ct state invalid drop",
    "    ct state established,related accept",
    // Xvnc only answers the relay: no reverse connection (vncconfig -connect) to an allowed host,
    // which would be a second viewer nobody records.
    `    meta skuid ${VNC_UID} drop comment "the VNC server opens no connection"`,
    `    ${neighbour}`,
    ...out,
    "  }",
    "  chain input {",
    "    type filter hook input priority filter; policy drop;",
    '    iifname "lo" accept',
    "    ct state invalid drop",
    "    ct state established,related accept",
    `    ${neighbour}`,
    ...relay,
    "  }",
    // The workspace routes nothing: not from the customer's tunnel into the host's networks, not
    // the other way (the container also has forwarding off: workspaceContainerOptions).
    "  chain forward {",
    "    type filter hook forward priority filter; policy drop;",
    "  }",
    "}",
  ].join("\n")}\n`;
}

function checkPort(port: number | null): number {
  if (port === null || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error("VPN endpoint: port must be 1–65535");
  return port;
}

/** A VPN endpoint as a profile names it: a host name or an address. */
export interface NamedEndpoint {
  host: string;
  protocol: "tcp" | "udp" | "esp";
  port: number | null;
}

/**
 * The endpoints with their host names resolved through `lookup` (every address it returns, IPv4
 * and IPv6), addresses kept as they are, duplicates dropped: what renderEgressRuleset takes. The
 * runtime resolves at each start, so the workspace itself needs no DNS to reach its VPN. Throws
 * naming the host when a name resolves to nothing usable.
 */
export async function resolveEndpoints(
  endpoints: NamedEndpoint[],
  lookup: (host: string) => Promise<string[]>,
): Promise<ResolvedEndpoint[]> {
  const out = new Map<string, ResolvedEndpoint>();
  for (const endpoint of endpoints) {
    const direct = parseNetwork(endpoint.host);
    let addresses: string[];
    if (direct) addresses = [direct.address];
    else {
      const found = (await lookup(endpoint.host)).filter((a) => {
        const n = parseNetwork(a);
        return n !== null && n.prefix === (n.family === 4 ? 32 : 128);
      });
      if (found.length === 0)
        throw new Error(`VPN endpoint ${endpoint.host.slice(0, 100)}: no address found`);
      addresses = found;
    }
    for (const address of addresses) {
      const network = parseNetwork(address);
      const refusal = network ? destinationRefusal(network) : "is not an address";
      if (refusal)
        throw new Error(
          `VPN endpoint ${endpoint.host.slice(0, 100)}: resolves to ${address.slice(0, 60)}, which ${refusal}`,
        );
      const resolved = {
        address: address.toLowerCase(),
        protocol: endpoint.protocol,
        port: endpoint.port,
      };
      out.set(`${resolved.address} ${resolved.protocol} ${resolved.port}`, resolved);
    }
  }
  return [...out.values()];
}
