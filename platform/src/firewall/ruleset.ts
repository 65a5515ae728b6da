// The platform's nftables ruleset, rendered from data: table inet meetpoint, forward policy drop,
// and a set of grants (technician tunnel address, proxy address, protocol, port) — one element per
// enabled service of an active remote session, with counters as the session's flow evidence.
import { type Cidr, formatCidr, formatIpv4, parseIpv4 } from "@meetpoint/common";

export const TABLE = "meetpoint";
export const GRANTS_SET = "service_grants";
export const WORKSTATIONS_MAP = "workstation_addresses";

export interface Grant {
  technicianAddress: string;
  proxyAddress: string;
  protocol: "tcp" | "udp";
  port: number;
}

export interface FirewallModel {
  /** Interface name pattern of the OpenVPN servers' tun devices, e.g. "meetpoint-vpn*". */
  tunnelInterfaces: string;
  /** Tunnel addresses handed to technicians. */
  technicianPool: Cidr;
  /** Proxy addresses of machines (behind gateways). */
  proxyPool: Cidr;
  grants: Grant[];
  /** Online workstations: each one's proxy address, translated to its tunnel address. */
  workstations?: WorkstationAddress[];
}

/** A workstation reaches technicians at its proxy address, translated to its tunnel address. */
export interface WorkstationAddress {
  proxyAddress: string;
  tunnelAddress: string;
}

/** One map element: "proxy : tunnel", addresses normalised. */
function workstationElement(w: WorkstationAddress): string {
  const proxy = parseIpv4(w.proxyAddress);
  const tunnel = parseIpv4(w.tunnelAddress);
  if (proxy === null || tunnel === null)
    throw new Error(`workstation: bad address ${w.proxyAddress} → ${w.tunnelAddress}`);
  return `${formatIpv4(proxy)} : ${formatIpv4(tunnel)}`;
}

const INTERFACE_PATTERN = /^[a-z][a-z0-9-]{0,13}\*?$/;

function checkGrant(grant: Grant): void {
  if (parseIpv4(grant.technicianAddress) === null)
    throw new Error(`grant: bad technician address ${grant.technicianAddress}`);
  if (parseIpv4(grant.proxyAddress) === null)
    throw new Error(`grant: bad proxy address ${grant.proxyAddress}`);
  if (grant.protocol !== "tcp" && grant.protocol !== "udp")
    throw new Error(`grant: bad protocol ${grant.protocol}`);
  if (!Number.isInteger(grant.port) || grant.port < 1 || grant.port > 65535)
    throw new Error(`grant: bad port ${grant.port}`);
}

/** One set element: "tech . proxy . proto . port", addresses normalised. */
export function grantElement(grant: Grant): string {
  checkGrant(grant);
  const tech = formatIpv4(parseIpv4(grant.technicianAddress) as number);
  const proxy = formatIpv4(parseIpv4(grant.proxyAddress) as number);
  return `${tech} . ${proxy} . ${grant.protocol} . ${grant.port}`;
}

/**
 * The whole table, replaced atomically by `nft -f` (the first two lines make the delete safe when
 * the table does not exist yet). Forwarded packets pass only:
 *   technician → machine: new or established flows matching a grant;
 *   machine → technician: established replies of a flow matching a grant (looked up reversed).
 * Everything else into or out of a tunnel — other ports, other machines, the gateways themselves,
 * IPv6, broadcast — is counted and dropped, and so is anything from a tunnel whose source is
 * outside both pools. Forwarded traffic that touches no tunnel is left to the host's other tables.
 * Nothing that arrives through a tunnel reaches the platform host itself (portal, OpenVPN, SSH…).
 * A workstation's proxy address is translated (DNAT) to its tunnel address before the grants are
 * checked, so the grants always name what the technician asked for: the conntrack entry's
 * original addresses. Ports are never translated. A tunnel address may be granted too: a platform
 * admin's SSH maintenance session to a gateway reaches the gateway's tunnel address, port 22.
 */
export function renderRuleset(model: FirewallModel): string {
  if (!INTERFACE_PATTERN.test(model.tunnelInterfaces))
    throw new Error(`bad interface pattern ${model.tunnelInterfaces}`);
  const elements = [...new Set(model.grants.map(grantElement))];
  const workstations = [...new Set((model.workstations ?? []).map(workstationElement))];
  const technicians = formatCidr(model.technicianPool);
  const proxies = formatCidr(model.proxyPool);
  return `table inet ${TABLE}
delete table inet ${TABLE}
table inet ${TABLE} {
  set ${GRANTS_SET} {
    type ipv4_addr . ipv4_addr . inet_proto . inet_service
    counter
${elements.length ? `    elements = { ${elements.join(",\n                 ")} }\n` : ""}  }

  map ${WORKSTATIONS_MAP} {
    type ipv4_addr : ipv4_addr
${workstations.length ? `    elements = { ${workstations.join(",\n                 ")} }\n` : ""}  }

  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "${model.tunnelInterfaces}" ip saddr ${technicians} ip daddr @${WORKSTATIONS_MAP} dnat ip to ip daddr map @${WORKSTATIONS_MAP} comment "workstation: proxy → tunnel address"
  }

  chain forward {
    type filter hook forward priority filter; policy drop;
    iifname != "${model.tunnelInterfaces}" oifname != "${model.tunnelInterfaces}" accept comment "not tunnel traffic: other tables decide"
    iifname "${model.tunnelInterfaces}" ip saddr != { ${technicians}, ${proxies} } counter drop comment "spoofed tunnel source"
    iifname "${model.tunnelInterfaces}" ct direction original ct original ip saddr ${technicians} ct original ip daddr { ${proxies}, ${technicians} } ct state new,established ct original ip saddr . ct original ip daddr . meta l4proto . th dport @${GRANTS_SET} accept
    iifname "${model.tunnelInterfaces}" ct direction reply ct state established ct original ip saddr . ct original ip daddr . meta l4proto . th sport @${GRANTS_SET} accept
    counter drop comment "not granted"
  }

  chain input {
    type filter hook input priority filter; policy accept;
    iifname "${model.tunnelInterfaces}" counter drop comment "tunnels reach nothing on the platform itself"
  }
}
`;
}

/** Adds and removes grants in one atomic transaction, leaving all other grants untouched. */
export function renderGrantChange(add: Grant[], remove: Grant[]): string {
  const lines: string[] = [];
  const removed = [...new Set(remove.map(grantElement))];
  const added = [...new Set(add.map(grantElement))];
  // Adding first makes the removal idempotent: nft refuses to delete an element that is not
  // there, and a session may be ended twice at once (a disconnect racing its end time).
  if (removed.length)
    lines.push(
      `add element inet ${TABLE} ${GRANTS_SET} { ${removed.join(", ")} }`,
      `delete element inet ${TABLE} ${GRANTS_SET} { ${removed.join(", ")} }`,
    );
  if (added.length) lines.push(`add element inet ${TABLE} ${GRANTS_SET} { ${added.join(", ")} }`);
  return lines.length ? `${lines.join("\n")}\n` : "";
}

/**
 * Points a workstation's proxy address at `next` (its tunnel address), or at nothing (null), in one
 * atomic transaction. `current` is the tunnel address the map holds now, as listed: nft 1.0.6 has
 * no "destroy", so deleting an element that is not there, or adding a key that is, fails.
 */
export function renderWorkstationChange(
  proxyAddress: string,
  current: string | null,
  next: string | null,
): string {
  const element = (tunnelAddress: string) => workstationElement({ proxyAddress, tunnelAddress });
  if (current === next) return "";
  const lines: string[] = [];
  if (current !== null)
    lines.push(`delete element inet ${TABLE} ${WORKSTATIONS_MAP} { ${element(current)} }`);
  if (next !== null)
    lines.push(`add element inet ${TABLE} ${WORKSTATIONS_MAP} { ${element(next)} }`);
  return `${lines.join("\n")}\n`;
}
