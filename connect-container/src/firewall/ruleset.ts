// The gateway's nftables ruleset, rendered from data: the machine LAN and the customer WAN never
// meet; from the tunnel only the proxy addresses of enabled services pass, translated 1:1 to the
// machines' LAN addresses (DNAT) and masqueraded towards the LAN; the gateway itself is closed to
// the tunnel (but for its SSH port while a platform admin has a maintenance session open), and to
// the WAN except for answers to its own outgoing connections — and for the operator UI's ports
// where the platform's signed settings let the UI answer on the WAN side. With no data channel
// there is no tunnel rule at all.

import { formatIpv4, parseIpv4 } from "@meetpoint/common";

export const TABLE = "meetpoint";
/** The gateway's maintenance SSH server listens on this port (LAN side, and the tunnel address). */
export const SSH_PORT = 22;

export interface ForwardedService {
  /** The machine's platform-wide proxy address. */
  proxyAddress: string;
  /** The machine's address on this site's LAN. */
  lanAddress: string;
  protocol: "tcp" | "udp";
  port: number;
}

export interface GatewayFirewall {
  /** The machines' side. Every other interface but loopback is the WAN side: in a container,
   * Docker renames an interface it re-attaches, so the WAN is never trusted by its name. */
  lanInterface: string;
  /** The OpenVPN client's tun device while the data channel is up; null when disconnected. */
  tunnelInterface: string | null;
  services: ForwardedService[];
  /**
   * The gateway's own tunnel address and SSH port while a maintenance session is open (and the SSH
   * server runs): the tunnel may reach exactly that. Null: the tunnel reaches nothing on the
   * gateway, and SSH flows from it that are still established stop passing.
   */
  maintenanceSsh?: { tunnelAddress: string } | null;
  /**
   * TCP ports of the operator UI (and local consent API) opened on the WAN side too, as the
   * platform's settings say; empty (the default): the UI answers on the machine network only.
   */
  uiPortsOnWan?: number[];
  /**
   * Read-only Modbus services: TCP to the proxy address and port is redirected from the tunnel to
   * the agent's filter on `listenerPort` (the gateway's own tunnel address), which relays reads to
   * the machine; such a service is not in `services` (never DNAT'ed). Empty by default.
   */
  modbusFilters?: {
    proxyAddress: string;
    port: number;
    listenerPort: number;
    /**
     * Only TCP from these tunnel addresses (the technicians whose session has the service
     * read-only) is redirected; another technician's full session keeps its DNAT. Null or absent:
     * from every source. Empty: no redirect.
     */
    technicianAddresses?: string[] | null;
  }[];
  /**
   * Per technician, the read-only services they must never reach in full: forwarded (DNAT'ed)
   * traffic from `technicianAddress` to the machine's LAN address and TCP port is dropped, so a
   * read-only technician whose filter is not listening reaches nothing even while another
   * technician's full session opens that service's DNAT. Empty by default.
   */
  readOnlyFlows?: { technicianAddress: string; lanAddress: string; port: number }[];
}

const INTERFACE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

function address(text: string, what: string): string {
  const value = parseIpv4(text);
  if (value === null) throw new Error(`gateway firewall: bad ${what} ${text}`);
  return formatIpv4(value);
}

function checkService(service: ForwardedService): ForwardedService {
  if (service.protocol !== "tcp" && service.protocol !== "udp")
    throw new Error(`gateway firewall: bad protocol ${service.protocol}`);
  if (!Number.isInteger(service.port) || service.port < 1 || service.port > 65535)
    throw new Error(`gateway firewall: bad port ${service.port}`);
  return {
    ...service,
    proxyAddress: address(service.proxyAddress, "proxy address"),
    lanAddress: address(service.lanAddress, "LAN address"),
  };
}

function checkPort(port: number, what: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`gateway firewall: bad ${what} ${port}`);
  return port;
}

/** The whole table, replaced atomically with `nft -f`. */
export function renderGatewayRuleset(model: GatewayFirewall): string {
  for (const name of [model.lanInterface, model.tunnelInterface ?? "x"]) {
    if (!INTERFACE.test(name)) throw new Error(`gateway firewall: bad interface name ${name}`);
  }
  const services = model.tunnelInterface ? model.services.map(checkService) : [];
  const mapping = new Map<string, string>();
  for (const s of services) {
    const known = mapping.get(s.proxyAddress);
    if (known && known !== s.lanAddress)
      throw new Error(`gateway firewall: ${s.proxyAddress} maps to two LAN addresses`);
    mapping.set(s.proxyAddress, s.lanAddress);
  }
  const elements = (items: string[]) =>
    items.length ? `    elements = { ${[...new Set(items)].join(", ")} }\n` : "";
  const tun = model.tunnelInterface;
  const lan = model.lanInterface;
  const ssh = tun && model.maintenanceSsh ? model.maintenanceSsh : null;
  const sshRule = ssh
    ? `    iifname "${tun}" ip daddr ${address(ssh.tunnelAddress, "tunnel address")} tcp dport ${SSH_PORT} accept comment "maintenance session: SSH to the gateway"\n`
    : "";
  const uiPorts = [...new Set((model.uiPortsOnWan ?? []).map((p) => checkPort(p, "UI port")))];
  // After the tunnel's rules (which end in a drop) and the LAN's accept: only the WAN side is left.
  const uiRule = uiPorts.length
    ? `    tcp dport { ${uiPorts.join(", ")} } accept comment "operator UI on the WAN side: the platform's setting"\n`
    : "";
  const filters = tun
    ? (model.modbusFilters ?? [])
        .map((f) => ({
          proxyAddress: address(f.proxyAddress, "proxy address"),
          port: checkPort(f.port, "Modbus port"),
          listenerPort: checkPort(f.listenerPort, "filter port"),
          sources: f.technicianAddresses
            ? [...new Set(f.technicianAddresses.map((a) => address(a, "technician address")))]
            : null,
        }))
        .filter((f) => f.sources === null || f.sources.length > 0)
    : [];
  const redirects = filters
    .map(
      (f) =>
        `    iifname "${tun}" ${f.sources ? `ip saddr { ${f.sources.join(", ")} } ` : ""}ip daddr ${f.proxyAddress} tcp dport ${f.port} redirect to :${f.listenerPort} comment "read-only Modbus: to the agent's filter"\n`,
    )
    .join("");
  const readOnlyFlows = tun
    ? (model.readOnlyFlows ?? []).map(
        (f) =>
          `${address(f.technicianAddress, "technician address")} . ${address(f.lanAddress, "LAN address")} . ${checkPort(f.port, "Modbus port")}`,
      )
    : [];
  const readOnlyDrop = readOnlyFlows.length
    ? `    iifname "${tun}" ip saddr . ip daddr . tcp dport @read_only_flows counter drop comment "read-only Modbus: never in full"\n`
    : "";
  const filterInput = filters.length
    ? `    iifname "${tun}" ct status dnat tcp dport { ${[...new Set(filters.map((f) => f.listenerPort))].join(", ")} } accept comment "read-only Modbus filter"\n`
    : "";
  const tunnelRules = tun
    ? {
        dnat: `${redirects}    iifname "${tun}" ip daddr . meta l4proto . th dport @proxy_services dnat ip to ip daddr map @proxy_to_lan\n`,
        masquerade: `    iifname "${tun}" oifname "${lan}" masquerade\n`,
        forward: `${readOnlyDrop}    iifname "${tun}" oifname "${lan}" ct status dnat ip daddr . meta l4proto . th dport @lan_services accept
    iifname "${lan}" oifname "${tun}" ct state established,related accept\n`,
        input: `${sshRule}${filterInput}    iifname "${tun}" tcp dport ${SSH_PORT} counter drop comment "SSH from the tunnel: only in a maintenance session"
    iifname "${tun}" ct state established,related accept
    iifname "${tun}" counter drop comment "the gateway itself is closed to the tunnel"\n`,
      }
    : { dnat: "", masquerade: "", forward: "", input: "" };
  return `table inet ${TABLE}
delete table inet ${TABLE}
table inet ${TABLE} {
  map proxy_to_lan {
    type ipv4_addr : ipv4_addr
${elements([...mapping].map(([proxy, lanAddress]) => `${proxy} : ${lanAddress}`))}  }

  set proxy_services {
    type ipv4_addr . inet_proto . inet_service
${elements(services.map((s) => `${s.proxyAddress} . ${s.protocol} . ${s.port}`))}  }

  set lan_services {
    type ipv4_addr . inet_proto . inet_service
${elements(services.map((s) => `${s.lanAddress} . ${s.protocol} . ${s.port}`))}  }

  set read_only_flows {
    type ipv4_addr . ipv4_addr . inet_service
${elements(readOnlyFlows)}  }

  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
${tunnelRules.dnat}  }

  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
${tunnelRules.masquerade}  }

  chain forward {
    type filter hook forward priority filter; policy drop;
${tunnelRules.forward}    oifname "${lan}" counter drop comment "WAN to LAN: never"
    iifname "${lan}" counter drop comment "LAN to WAN: never"
    counter drop comment "not forwarded"
  }

  chain input {
    type filter hook input priority filter; policy drop;
    iifname { "lo", "${lan}" } accept
${tunnelRules.input}${uiRule}    ct state established,related accept
    counter drop comment "nothing listens on the WAN side"
  }

}
`;
}
