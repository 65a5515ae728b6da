// The lab's wide-area network: a WAN namespace that routes between the platform's and the
// technician's (the sites join it later), with the lab's DNS (dnsmasq) and time (chrony) on it.
// Addresses only from 198.18.0.0/15.
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { link, linkToHost, type Netns, OutputLog } from "./netns.ts";

export const PLATFORM_NAME = "platform.lab.test";
export const PORTAL = `https://${PLATFORM_NAME}:8443`;
/** The platform as the test's own namespace reaches it (over a host link). */
export const PLATFORM_HOST_ADDRESS = "198.18.130.2";
/** The lab OpenID provider listens here, on the host side of that link. */
export const IDP_ADDRESS = "198.18.130.1";
/** The lab's DNS server, on the WAN: every namespace with a resolver uses it. */
export const DNS_ADDRESS = "198.18.140.53";
const NTP_ADDRESS = "198.18.140.123";

/** Namespace prefixes of this topology: one lab per host, so any left by a killed run goes. */
const LAB_NAMESPACES = /^meetpoint-(wan|plat|tech|gwacme|gwbolt|lanacme|lanbolt|wspc)-[0-9a-f]{6}$/;

/** Removes the namespaces (and everything running in them) a killed earlier lab left behind. */
export function removeStaleLab(): void {
  const listed = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  for (const name of listed.split("\n").map((l) => l.split(" ")[0] ?? "")) {
    if (!LAB_NAMESPACES.test(name)) continue;
    const pids = spawnSync("ip", ["netns", "pids", name], { encoding: "utf8" }).stdout ?? "";
    for (const pid of pids.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // already gone
      }
    }
    spawnSync("ip", ["netns", "del", name]);
    rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
  }
}

export interface Wan {
  wan: Netns;
  platformNs: Netns;
  technicianNs: Netns;
}

/**
 * The WAN, the platform's and the technician's namespaces (made with `ns`) and their links; the
 * platform's also reaches the host, where the test and the lab OpenID provider run.
 */
export function buildWan(ns: (name: string) => Netns): Wan {
  const wan = ns("wan");
  const platformNs = ns("plat");
  const technicianNs = ns("tech");
  wan.exec("sysctl", "-qw", "net.ipv4.ip_forward=1");
  wan.exec("ip", "addr", "add", `${DNS_ADDRESS}/32`, "dev", "lo");
  wan.exec("ip", "addr", "add", `${NTP_ADDRESS}/32`, "dev", "lo");
  link(wan, "198.18.141.1/30", platformNs, "198.18.141.2/30");
  platformNs.exec("ip", "route", "add", "default", "via", "198.18.141.1");
  link(wan, "198.18.142.1/30", technicianNs, "198.18.142.2/30");
  technicianNs.exec("ip", "route", "add", "default", "via", "198.18.142.1");
  linkToHost(platformNs, `${IDP_ADDRESS}/30`, `${PLATFORM_HOST_ADDRESS}/30`);
  for (const n of [platformNs, technicianNs]) n.useNameserver(DNS_ADDRESS);
  return { wan, platformNs, technicianNs };
}

/** The WAN's own services: DNS (the platform's name, ntp.lab.test) and time; files under `dir`. */
export function startWanServices(wan: Netns, dir: string): void {
  const dns = wan.spawn([
    "dnsmasq",
    "--keep-in-foreground",
    "--log-facility=-",
    "--conf-file=/dev/null",
    "--no-resolv",
    "--no-hosts",
    `--listen-address=${DNS_ADDRESS}`,
    "--bind-interfaces",
    `--pid-file=${join(dir, "dnsmasq.pid")}`,
    `--address=/${PLATFORM_NAME}/198.18.141.2`,
    `--address=/ntp.lab.test/${NTP_ADDRESS}`,
  ]);
  const chronyConf = join(dir, "chrony.conf");
  writeFileSync(
    chronyConf,
    `local stratum 8\nallow 198.18.0.0/15\nbindaddress ${NTP_ADDRESS}\nport 123\ncmdport 0\npidfile ${join(dir, "chrony.pid")}\n`,
  );
  // -x: never touch the host's clock (the clock is not per namespace).
  const ntp = wan.spawn(["chronyd", "-d", "-x", "-u", "root", "-f", chronyConf]);
  void new OutputLog(dns);
  void new OutputLog(ntp);
}
