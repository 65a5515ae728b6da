// A factory whose only way out is an HTTP proxy: tinyproxy (Debian's) on the WAN, and a connect
// gateway whose namespace has a link to the proxy and no route to anything else — no default route,
// no route to the platform, no DNS. The agent is told the proxy by MEETPOINT_HTTP_PROXY; both its
// channels (HTTPS control channel, OpenVPN over TCP) must go through it. Addresses 198.18.160.0/30
// (uplink; the proxy listens on the WAN's end) and 198.18.161.0/30 (the operator's link).
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type EnteredSite, enterSite, localApi, setUpOperator } from "./master-data.ts";
import { link, Netns, OutputLog, operatorLink } from "./netns.ts";
import type { PortalClient } from "./portal.ts";
import { type Process, ROOT, stopProcess, waitForLog } from "./processes.ts";
import { DNS_ADDRESS } from "./wan.ts";

const MACHINE_ADDRESS = "192.168.0.10";
export const PROXY_ADDRESS = "198.18.160.1";
export const PROXY_PORT = 3128;

export interface ProxySite extends EnteredSite {
  name: string;
  gatewayNs: Netns;
  machineNs: Netns;
  operatorUrl: string;
  apiToken: string;
  agent: Process;
  /** The proxy's process; stopProxy()/startProxy() take it away and bring it back. */
  proxy: Process | null;
  local(
    method: "GET" | "POST",
    path: string,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  startProxy(): Promise<void>;
  stopProxy(): Promise<void>;
  /** Removes what this site made (its namespaces; the proxy runs in the WAN's and goes with it). */
  destroy(): Promise<void>;
}

/**
 * Enters the site in the portal as `admin` (its technicians: `group` of the lab provider
 * `providerId`), starts tinyproxy in `wan` (letting through CONNECT to the platform's HTTPS and
 * OpenVPN ports, from the gateway and from `technicianNetwork`) and the gateway behind it.
 */
export async function startProxySite(
  admin: PortalClient,
  spec: { name: string; group: string; providerId: string },
  lab: { wan: Netns; dir: string; technicianNetwork: string },
): Promise<ProxySite> {
  const { wan, dir } = lab;
  const entered = await enterSite(admin, { ...spec, machineAddress: MACHINE_ADDRESS });
  const tag = spec.name.toLowerCase().slice(0, 4);
  const gatewayNs = Netns.create(`gw${tag}`);
  const machineNs = Netns.create(`lan${tag}`);
  const uplink = link(wan, `${PROXY_ADDRESS}/30`, gatewayNs, "198.18.160.2/30");
  // The proxy resolves the platform's name with the lab's DNS; the gateway never does.
  wan.useNameserver(DNS_ADDRESS);
  const lanDevice = link(gatewayNs, "192.168.0.1/24", machineNs, `${MACHINE_ADDRESS}/24`).aName;
  machineNs.exec("ip", "route", "add", "default", "via", "192.168.0.1");
  operatorLink(machineNs, "198.18.161.1/30", "198.18.161.2/30", "192.168.0.1");
  const machine = machineNs.spawn([
    "bun",
    join(ROOT, "lab/src/simulators/machine.ts"),
    MACHINE_ADDRESS,
    `machine ${spec.name}`,
  ]);
  void new OutputLog(machine);

  const proxyConf = join(dir, `tinyproxy-${tag}.conf`);
  writeFileSync(
    proxyConf,
    [
      `Port ${PROXY_PORT}`,
      `Listen ${PROXY_ADDRESS}`,
      "Timeout 600",
      "LogLevel Info",
      "MaxClients 50",
      "Allow 198.18.160.0/30",
      `Allow ${lab.technicianNetwork}`,
      "ConnectPort 8443",
      "ConnectPort 1194",
      `PidFile "${join(dir, `tinyproxy-${tag}.pid`)}"`,
      "",
    ].join("\n"),
  );
  const agentEnv = {
    MEETPOINT_DATA_DIR: join(dir, `gateway-${tag}`),
    MEETPOINT_WAN_INTERFACE: uplink.bName,
    MEETPOINT_LAN_INTERFACE: lanDevice,
    MEETPOINT_UI_HTTPS_PORT: "8443",
    MEETPOINT_UI_HTTP_PORT: "8080",
    MEETPOINT_NTP_SERVERS: "ntp.lab.test",
    MEETPOINT_HEARTBEAT_SECONDS: "2",
    MEETPOINT_HTTP_PROXY: `${PROXY_ADDRESS}:${PROXY_PORT}`,
  };
  const child = gatewayNs.spawn(["bun", join(ROOT, "connect-container/src/main.ts")], {
    env: agentEnv,
  });
  const agent = { child, log: new OutputLog(child) };
  await waitForLog(agent, "operator UI on https://", 30_000, `gateway ${spec.name}`);
  const operatorUrl = "https://198.18.161.2:8443";
  const apiToken = await setUpOperator(operatorUrl, spec.name);

  const site: ProxySite = {
    ...entered,
    name: spec.name,
    gatewayNs,
    machineNs,
    operatorUrl,
    apiToken,
    agent,
    proxy: null,
    local: (method, path) => localApi(operatorUrl, apiToken, method, path),
    startProxy: async () => {
      const started = wan.spawn(["tinyproxy", "-d", "-c", proxyConf]);
      site.proxy = { child: started, log: new OutputLog(started) };
      await waitForLog(site.proxy, "Accepting connections", 10_000, "tinyproxy");
    },
    stopProxy: async () => {
      if (site.proxy) await stopProcess(site.proxy);
      site.proxy = null;
    },
    destroy: async () => {
      await stopProcess(site.agent);
      await site.stopProxy();
      gatewayNs.destroy();
      machineNs.destroy();
    },
  };
  await site.startProxy();
  return site;
}

/** Whether the gateway's namespace has any route to `address` (it must not, to the platform). */
export function routeFrom(ns: Netns, address: string): boolean {
  return (
    spawnSync("ip", ["netns", "exec", ns.name, "ip", "route", "get", address], { stdio: "ignore" })
      .status === 0
  );
}
