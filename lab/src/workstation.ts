// A plant PC as a workstation gateway in the lab: the admin enters it in the portal at a site
// (VNC enabled, RDP not) and the plant's operator; the PC is a namespace on the WAN with those two
// services and the stock openvpn client, which runs the file the operator's Go online offers.
// Addresses only from 198.18.0.0/15.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, link, Netns, OutputLog } from "./netns.ts";
import { PortalClient } from "./portal.ts";
import { type Process, stopProcess } from "./processes.ts";
import type { Site } from "./sites.ts";
import { DNS_ADDRESS, PORTAL } from "./wan.ts";

/** The PC's services: [name, port, enabled]. Each answers HTTP with "workstation <port>". */
export const WORKSTATION_SERVICES = [
  ["VNC", 5900, true],
  ["RDP", 3389, false],
] as const;

export interface Workstation {
  gatewayId: string;
  machineId: string;
  /** Where technicians reach the PC: its proxy address on the platform. */
  proxyAddress: string;
  ns: Netns;
  /** The plant's operator, signed in to the portal (as on that PC). */
  operator: PortalClient;
  /** Go online in the portal; the one-time .ovpn it offers. */
  goOnline(): Promise<string>;
  /** Go offline in the portal. */
  goOffline(): Promise<void>;
  /** The PC's stock openvpn client with `profile`; resolves when it connected or was refused. */
  openvpn(profile: string): Promise<Process & { connected: boolean; stop(): Promise<void> }>;
  stop(): void;
}

/** The lab's parts a workstation joins. */
export interface WorkstationLab {
  admin: PortalClient;
  wan: Netns;
  dir: string;
  hosts: Record<string, string>;
}

/** Enters a workstation at `site` with its operator, and builds the PC on the WAN. */
export async function startWorkstation(lab: WorkstationLab, site: Site): Promise<Workstation> {
  const { admin } = lab;
  const created = await admin.submit(`/sites/${site.siteId}`, `/sites/${site.siteId}/gateways`, {
    name: `${site.name} HMI PC`,
    kind: "workstation",
  });
  const gatewayId = created.location?.match(/\/gateways\/([0-9a-f-]{36})/)?.[1];
  if (!gatewayId) throw new Error(`workstation not created: ${created.status}`);
  const machineId = (await admin.page(`/gateways/${gatewayId}`)).match(
    /href="\/machines\/([0-9a-f-]{36})"/,
  )?.[1];
  if (!machineId) throw new Error("the workstation has no machine");
  for (const [name, port, enabled] of WORKSTATION_SERVICES)
    await admin.createService(machineId, { name, protocol: "tcp", port, enabled });
  const proxyAddress =
    (await admin.page(`/machines/${machineId}`)).match(/(100\.\d+\.\d+\.\d+)/)?.[1] ?? "";

  const operatorPassword = await admin.createUser(
    `operator-${site.name.toLowerCase()}`,
    `Operator ${site.name}`,
    "operator",
    site.customerId,
  );
  const operator = new PortalClient(PORTAL, lab.hosts);
  await operator.firstSignIn(`operator-${site.name.toLowerCase()}`, operatorPassword);

  const ns = Netns.create("wspc");
  try {
    link(lab.wan, "198.18.160.1/30", ns, "198.18.160.2/30");
    ns.exec("ip", "route", "add", "default", "via", "198.18.160.1");
    ns.useNameserver(DNS_ADDRESS);
    for (const [, port] of WORKSTATION_SERVICES)
      void new OutputLog(
        ns.spawn([
          "bun",
          "-e",
          `Bun.serve({ hostname: "0.0.0.0", port: ${port}, fetch: () => new Response("workstation ${port}") })`,
        ]),
      );
  } catch (error) {
    ns.destroy();
    throw error;
  }

  return {
    gatewayId,
    machineId,
    proxyAddress,
    ns,
    operator,
    goOnline: async () => {
      await operator.page(`/gateways/${gatewayId}`);
      const r = await operator.shownOnce(
        await operator.request("POST", `/workstations/${gatewayId}/online`, {}),
      );
      const data = r.html.match(
        /href="data:application\/x-openvpn-profile;base64,([A-Za-z0-9+/=]+)"/,
      )?.[1];
      if (!data) throw new Error(`Go online: no .ovpn offered (${r.status})`);
      return Buffer.from(data, "base64").toString("utf8");
    },
    goOffline: async () => {
      await operator.page(`/gateways/${gatewayId}`);
      const r = await operator.request("POST", `/workstations/${gatewayId}/offline`, {});
      if (r.status !== 303) throw new Error(`Go offline: ${r.status}`);
    },
    openvpn: async (profile) => {
      const file = join(lab.dir, `workstation-${crypto.randomUUID()}.ovpn`);
      writeFileSync(file, profile, { mode: 0o600 });
      const child = ns.spawn(["openvpn", "--config", file, "--verb", "3"]);
      const process = { child, log: new OutputLog(child) };
      await eventually(
        async () =>
          process.log.has("Initialization Sequence Completed") ||
          process.log.has("AUTH_FAILED") ||
          child.exitCode !== null,
        30_000,
        100,
      );
      return {
        ...process,
        connected: process.log.has("Initialization Sequence Completed"),
        stop: () => stopProcess(process),
      };
    },
    stop: () => ns.destroy(),
  };
}
