// A factory site in the lab: entered in the portal as an admin would, then built — a connect
// gateway between the WAN and a machine LAN (192.168.0.0/24 at every site), the machine simulator
// with dropbear for SSH, and the operator's terminal on the LAN with the agent's local API token.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { type EnteredSite, enterSite, localApi, setUpOperator } from "./master-data.ts";
import { link, type Netns, OutputLog, operatorLink } from "./netns.ts";
import type { PortalClient } from "./portal.ts";
import { type Process, ROOT, stopProcess, waitForLog } from "./processes.ts";
import { DNS_ADDRESS } from "./wan.ts";

const MACHINE_ADDRESS = "192.168.0.10";

/** A site as entered in the portal (EnteredSite), built and running. */
export interface Site extends EnteredSite {
  name: string;
  gatewayNs: Netns;
  machineNs: Netns;
  wanDevice: string;
  /** The WAN side's end of the gateway's uplink (in the WAN namespace): pull this "cable". */
  wanPeer: string;
  /** The operator UI and local API, reached over the operator's own link. */
  operatorUrl: string;
  apiToken: string;
  /** The agent's request lamp file (MEETPOINT_REQUEST_LAMP_PATH): "1" while a request waits. */
  lampPath: string;
  agent: Process;
  /** The local consent API, as a machine HMI would call it. */
  local(
    method: "GET" | "POST",
    path: string,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  restartAgent(): Promise<void>;
}

export interface SiteSpec {
  /** 0, 1, …: picks the site's uplink (198.18.143+index.0/30) and operator link (198.18.150+index.0/30). */
  index: number;
  name: string;
  /** The provider group whose members are this customer's technicians. */
  group: string;
  providerId: string;
}

/**
 * Enters the site through the portal as `admin`, builds its namespaces (made with `ns`) on `wan`,
 * starts the machine and the gateway agent (data under `dir`) and sets up its operator.
 */
export async function startSite(
  admin: PortalClient,
  spec: SiteSpec,
  lab: { wan: Netns; ns: (name: string) => Netns; dir: string },
): Promise<Site> {
  const { index, name } = spec;
  const { wan, ns, dir } = lab;
  const entered = await enterSite(admin, {
    name,
    group: spec.group,
    providerId: spec.providerId,
    machineAddress: MACHINE_ADDRESS,
  });
  const { customerId, machineId, proxyAddress } = entered;

  // The site: a gateway between the WAN and a machine LAN that is the same at both sites.
  const tag = name.toLowerCase().slice(0, 4);
  const gatewayNs = ns(`gw${tag}`);
  const machineNs = ns(`lan${tag}`);
  const uplink = link(wan, `198.18.${143 + index}.1/30`, gatewayNs, `198.18.${143 + index}.2/30`);
  const wanDevice = uplink.bName;
  gatewayNs.exec("ip", "route", "add", "default", "via", `198.18.${143 + index}.1`);
  gatewayNs.useNameserver(DNS_ADDRESS);
  const lanDevice = link(gatewayNs, "192.168.0.1/24", machineNs, `${MACHINE_ADDRESS}/24`).aName;
  machineNs.exec("ip", "route", "add", "default", "via", "192.168.0.1");
  const operatorAddress = `198.18.${150 + index}.2`;
  operatorLink(machineNs, `198.18.${150 + index}.1/30`, `${operatorAddress}/30`, "192.168.0.1");
  const machine = machineNs.spawn([
    "bun",
    join(ROOT, "lab/src/simulators/machine.ts"),
    MACHINE_ADDRESS,
    `machine ${name}`,
  ]);
  void new OutputLog(machine);
  const hostKey = join(dir, `dropbear-${tag}.key`);
  spawnSync("dropbearkey", ["-t", "ed25519", "-f", hostKey], { stdio: "ignore" });
  machineNs.spawn(["dropbear", "-F", "-E", "-s", "-p", `${MACHINE_ADDRESS}:22`, "-r", hostKey]);

  const agentEnv = {
    MEETPOINT_DATA_DIR: join(dir, `gateway-${tag}`),
    MEETPOINT_WAN_INTERFACE: wanDevice,
    MEETPOINT_LAN_INTERFACE: lanDevice,
    MEETPOINT_UI_HTTPS_PORT: "8443",
    MEETPOINT_UI_HTTP_PORT: "8080",
    MEETPOINT_NTP_SERVERS: "ntp.lab.test",
    MEETPOINT_HEARTBEAT_SECONDS: "2",
    MEETPOINT_REQUEST_LAMP_PATH: join(dir, `lamp-${tag}`),
  };
  const startAgent = async (): Promise<Process> => {
    const child = gatewayNs.spawn(["bun", join(ROOT, "connect-container/src/main.ts")], {
      env: agentEnv,
    });
    const process = { child, log: new OutputLog(child) };
    await waitForLog(process, "operator UI on https://", 30_000, `gateway ${name}`);
    return process;
  };
  const agent = await startAgent();
  const operatorUrl = `https://${operatorAddress}:8443`;
  const apiToken = await setUpOperator(operatorUrl, name);
  const site: Site = {
    name,
    customerId,
    siteId: entered.siteId,
    gatewayId: entered.gatewayId,
    bundle: entered.bundle,
    machineId,
    proxyAddress,
    gatewayNs,
    machineNs,
    wanDevice,
    wanPeer: uplink.aName,
    operatorUrl,
    apiToken,
    lampPath: agentEnv.MEETPOINT_REQUEST_LAMP_PATH,
    agent,
    local: (method, path) => localApi(operatorUrl, apiToken, method, path),
    restartAgent: async () => {
      await stopProcess(site.agent);
      site.agent = await startAgent();
    },
  };
  return site;
}

/** What the lab's log says about a site once it is up. */
export function describeSite(site: Site): string {
  return `site ${site.name}: gateway ${site.gatewayId}, machine ${MACHINE_ADDRESS} as ${site.proxyAddress}, operator UI ${site.operatorUrl}`;
}
