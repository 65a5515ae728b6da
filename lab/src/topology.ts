// The whole system on one host, built and torn down by code: a WAN with the lab's DNS (dnsmasq)
// and time (chrony) (wan.ts), the platform (platform-host.ts), the lab OpenID provider, a
// technician's host with the stock openvpn client (technician.ts), and two factories whose machine
// LANs use the same subnet, each behind its own connect gateway (sites.ts). Addresses only from
// 198.18.0.0/15 (and the machines' 192.168.0.0/24, which exists only inside their LAN namespaces).
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeBase32NoPadding } from "@oslojs/encoding";
import { type LabIdp, startLabIdp } from "../idp/provider.ts";
import { enterLabProvider, platformAsClient } from "./master-data.ts";
import { Netns } from "./netns.ts";
import { type PlatformHost, type PlatformHostOptions, platformHost } from "./platform-host.ts";
import { PortalClient } from "./portal.ts";
import { type Process, stopProcess, waitForLog } from "./processes.ts";
import { describeSite, type Site, startSite } from "./sites.ts";
import { TECHNICIANS, type TechnicianHost, technicianHost } from "./technician.ts";
import {
  buildWan,
  IDP_ADDRESS,
  PLATFORM_HOST_ADDRESS,
  PLATFORM_NAME,
  PORTAL,
  removeStaleLab,
  startWanServices,
} from "./wan.ts";

export type { Process } from "./processes.ts";
export type { Site } from "./sites.ts";
export { TECHNICIANS } from "./technician.ts";
export { PLATFORM_NAME, PORTAL } from "./wan.ts";

export interface LabOptions extends PlatformHostOptions {
  log?: (line: string) => void;
}

export interface Lab extends TechnicianHost, Omit<PlatformHost, "startPlatform" | "platformCli"> {
  dir: string;
  hosts: Record<string, string>;
  idp: LabIdp;
  wan: Netns;
  platformNs: Netns;
  technicianNs: Netns;
  platform: Process;
  admin: PortalClient;
  /** The lab admin's password and TOTP key (base32), for a person to sign in too. */
  adminCredentials: { password: string; totpKey: string };
  sites: [Site, Site];
  restartPlatform(): Promise<void>;
  /** kill -9 of the platform process, as a crash would: nothing of it runs afterwards. */
  killPlatform(): Promise<void>;
  /** Stops the platform for good and runs its command line on the same data (audit verify …). */
  platformCli(args: string[]): Promise<{ code: number; output: string }>;
  stop(): Promise<void>;
}

export async function startLab(options: LabOptions = {}): Promise<Lab> {
  const log = options.log ?? (() => {});
  removeStaleLab();
  const dir = mkdtempSync(join(tmpdir(), "meetpoint-lab-"));
  const made: Netns[] = [];
  const cleanups: (() => void)[] = [];
  const ns = (name: string) => {
    const created = Netns.create(name);
    made.push(created);
    return created;
  };
  let idp: LabIdp | null = null;
  const teardown = async () => {
    for (const n of made.reverse()) n.destroy();
    await idp?.stop();
    rmSync(dir, { recursive: true, force: true });
    for (const cleanup of cleanups) cleanup();
  };

  try {
    log("building namespaces and links");
    const { wan, platformNs, technicianNs } = buildWan(ns);
    startWanServices(wan, dir);

    idp = await startLabIdp({
      hostname: IDP_ADDRESS,
      users: TECHNICIANS,
      clients: [platformAsClient(PORTAL)],
    });

    const host = await platformHost(platformNs, dir, options, cleanups);
    log("starting the platform");
    const platform = await host.startPlatform();
    await waitForLog(platform, "You will choose your own password", 5000, "platform");
    const oneTime = platform.log.text.match(/one-time password\n\n {4}(\S+)/)?.[1] ?? "";

    const hosts = { [PLATFORM_NAME]: PLATFORM_HOST_ADDRESS };
    const admin = new PortalClient(PORTAL, hosts);
    const adminSignIn = await admin.firstSignIn("admin", oneTime);

    // Master data, as an admin enters it, and per site the site itself.
    log("entering master data and the identity provider");
    const providerId = await enterLabProvider(admin, idp);
    const sites: Site[] = [];
    for (const [index, name, group] of [
      [0, "ACME", "acme-service"],
      [1, "BOLT", "bolt-service"],
    ] as const) {
      const site = await startSite(admin, { index, name, group, providerId }, { wan, ns, dir });
      sites.push(site);
      log(describeSite(site));
    }

    const lab: Lab = {
      dir,
      hosts,
      idp,
      wan,
      platformNs,
      technicianNs,
      platform,
      admin,
      adminCredentials: {
        password: adminSignIn.password,
        totpKey: encodeBase32NoPadding(adminSignIn.totpKey),
      },
      sites: sites as [Site, Site],
      ...technicianHost(technicianNs, dir, hosts),
      platformCli: async (args) => {
        await stopProcess(lab.platform);
        return host.platformCli(args);
      },
      stopPostgres: host.stopPostgres,
      startPostgres: host.startPostgres,
      restartPlatform: async () => {
        await stopProcess(lab.platform);
        lab.platform = await host.startPlatform();
      },
      killPlatform: async () => {
        lab.platform.child.kill("SIGKILL");
        await lab.platform.child.exited;
      },
      stop: async () => {
        for (const site of sites) {
          site.agent.child.kill("SIGTERM");
          await Promise.race([site.agent.child.exited, Bun.sleep(3000)]);
        }
        lab.platform.child.kill("SIGTERM");
        await Promise.race([lab.platform.child.exited, Bun.sleep(5000)]);
        await teardown();
      },
    };
    mkdirSync(join(dir, "imports"), { recursive: true });
    return lab;
  } catch (error) {
    await teardown();
    throw error;
  }
}
