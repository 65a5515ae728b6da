// The whole system on one host, built and torn down by code: a WAN with the lab's DNS (dnsmasq)
// and time (chrony), the platform, the lab OpenID provider, a technician's host with the stock
// openvpn client, and two factories whose machine LANs use the same subnet, each behind its own
// connect gateway. Addresses only from 198.18.0.0/15 (and the machines' 192.168.0.0/24, which
// exists only inside their LAN namespaces).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeBase32NoPadding } from "@oslojs/encoding";
import type { Subprocess } from "bun";
import { type LabIdp, startLabIdp } from "../idp/provider.ts";
import {
  enterLabProvider,
  enterSite,
  localApi,
  platformAsClient,
  setUpOperator,
} from "./master-data.ts";
import { eventually, link, linkToHost, Netns, OutputLog, operatorLink } from "./netns.ts";
import { PortalClient } from "./portal.ts";

const ROOT = join(import.meta.dir, "../..");
export const PLATFORM_NAME = "platform.lab.test";
export const PORTAL = `https://${PLATFORM_NAME}:8443`;
/** The platform as the test's own namespace reaches it (over a host link). */
const PLATFORM_HOST_ADDRESS = "198.18.130.2";
/** The lab OpenID provider listens here, on the host side of that link. */
const IDP_ADDRESS = "198.18.130.1";
const DNS_ADDRESS = "198.18.140.53";
const NTP_ADDRESS = "198.18.140.123";
const MACHINE_ADDRESS = "192.168.0.10";

export interface Process {
  child: Subprocess<"ignore", "pipe", "pipe">;
  log: OutputLog;
}

export interface Site {
  name: string;
  customerId: string;
  gatewayId: string;
  bundle: string;
  machineId: string;
  /** The machine's proxy address on the platform (different per site, same LAN address). */
  proxyAddress: string;
  gatewayNs: Netns;
  machineNs: Netns;
  wanDevice: string;
  /** The WAN side's end of the gateway's uplink (in the WAN namespace): pull this "cable". */
  wanPeer: string;
  /** The operator UI and local API, reached over the operator's own link. */
  operatorUrl: string;
  apiToken: string;
  agent: Process;
  /** The local consent API, as a machine HMI would call it. */
  local(
    method: "GET" | "POST",
    path: string,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  restartAgent(): Promise<void>;
}

export interface LabOptions {
  /** Remote session length the platform grants, minutes (default 60). */
  remoteSessionMinutes?: number;
  /** How long a technician's one-time config can be used, minutes (default 10). */
  technicianCertMinutes?: number;
  /** Run the platform on a PostgreSQL server of its own in its namespace; default embedded PGlite. */
  postgres?: boolean;
  log?: (line: string) => void;
}

export interface Lab {
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
  /** A technician signed in through the lab OpenID provider. */
  technician(username?: string): Promise<PortalClient>;
  /** The stock openvpn client in the technician's namespace with `profile`. */
  openvpn(profile: string): Promise<Process & { stop(): Promise<void> }>;
  /** An HTTP GET from the technician's host; the body, or null when it does not answer. */
  fetchFromTechnician(url: string, timeoutMs?: number): string | null;
  /** Modbus register 0 read from the technician's host, or null. */
  modbusFromTechnician(host: string): number | null;
  /** What a TCP server says first (an SSH banner), from the technician's host; null if nothing. */
  bannerFromTechnician(host: string, port: number): string | null;
  restartPlatform(): Promise<void>;
  /** With `postgres`: stop and start the platform's database server. */
  stopPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
  /** Stops the platform for good and runs its command line on the same data (audit verify …). */
  platformCli(args: string[]): Promise<{ code: number; output: string }>;
  stop(): Promise<void>;
}

export const TECHNICIANS = [
  {
    username: "tina",
    password: "tina-lab-pw",
    name: "Tina Technician",
    groups: ["acme-service", "bolt-service"],
    amr: ["pwd", "otp"],
  },
  {
    username: "tom",
    password: "tom-lab-pw",
    name: "Tom Technician",
    groups: ["acme-service"],
    amr: ["pwd", "otp"],
  },
];

async function waitForLog(process: Process, text: string, ms: number, what: string) {
  if (!(await eventually(async () => process.log.has(text), ms, 100)))
    throw new Error(`${what}: "${text}" did not appear:\n${process.log.text.slice(-3000)}`);
}

/** Namespace prefixes of this topology: one lab per host, so any left by a killed run goes. */
const LAB_NAMESPACES = /^meetpoint-(wan|plat|tech|gwacme|gwbolt|lanacme|lanbolt)-[0-9a-f]{6}$/;

function removeStaleLab(): void {
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

/** Where Debian keeps the newest PostgreSQL's server programs. */
function postgresBin(): string {
  const versions =
    spawnSync("ls", ["/usr/lib/postgresql"], { encoding: "utf8" })
      .stdout?.split("\n")
      .filter(Boolean) ?? [];
  const newest = versions.sort((a, b) => Number(a) - Number(b)).at(-1);
  if (!newest) throw new Error("PostgreSQL server programs not found (apt-get install postgresql)");
  return `/usr/lib/postgresql/${newest}/bin`;
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
    // ---- networks --------------------------------------------------------------------------
    log("building namespaces and links");
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

    // ---- the WAN's own services: DNS and time ----------------------------------------------
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

    // ---- the lab OpenID provider --------------------------------------------------------------
    idp = await startLabIdp({
      hostname: IDP_ADDRESS,
      users: TECHNICIANS,
      clients: [platformAsClient(PORTAL)],
    });

    // ---- the platform's database (PostgreSQL in its namespace, or embedded PGlite) -------------
    let postgres: Process | null = null;
    // Outside the lab's private directory: the postgres user must reach it.
    const pgDir = options.postgres ? mkdtempSync(join(tmpdir(), "meetpoint-lab-pg-")) : "";
    const pgBin = options.postgres ? postgresBin() : null;
    const startPostgres = async () => {
      if (!pgBin) return;
      const child = platformNs.spawn([
        "runuser",
        "-u",
        "postgres",
        "--",
        join(pgBin, "postgres"),
        "-D",
        pgDir,
        "-k",
        pgDir,
        "-c",
        "listen_addresses=127.0.0.1",
        "-p",
        "5432",
      ]);
      postgres = { child, log: new OutputLog(child) };
      await waitForLog(postgres, "ready to accept connections", 30_000, "postgres");
    };
    if (pgBin) {
      cleanups.push(() => rmSync(pgDir, { recursive: true, force: true }));
      spawnSync("chown", ["postgres:postgres", pgDir]);
      const init = spawnSync(
        "runuser",
        [
          "-u",
          "postgres",
          "--",
          join(pgBin, "initdb"),
          "-D",
          pgDir,
          "-U",
          "meetpoint",
          "--auth=trust",
          "-E",
          "UTF8",
        ],
        { encoding: "utf8" },
      );
      if (init.status !== 0) throw new Error(`initdb: ${init.stderr}`);
      await startPostgres();
    }

    // ---- the platform ---------------------------------------------------------------------
    const platformEnv = {
      DATABASE_URL: pgBin ? "postgres://meetpoint@127.0.0.1:5432/postgres" : "",
      MEETPOINT_DATA_DIR: join(dir, "platform"),
      MEETPOINT_PUBLIC_URL: PORTAL,
      MEETPOINT_HTTPS_PORT: "8443",
      MEETPOINT_HTTP_PORT: "0",
      MEETPOINT_LISTEN_ADDRESS: "0.0.0.0",
      MEETPOINT_VPN_LISTEN: "tcp:1194",
      MEETPOINT_KEK: "44".repeat(32),
      MEETPOINT_REMOTE_SESSION_MINUTES: String(options.remoteSessionMinutes ?? 60),
      MEETPOINT_TECHNICIAN_CERT_MINUTES: String(options.technicianCertMinutes ?? 10),
    };
    const startPlatform = async (): Promise<Process> => {
      const child = platformNs.spawn(["bun", join(ROOT, "platform/src/main.ts")], {
        env: platformEnv,
      });
      const process = { child, log: new OutputLog(child) };
      await waitForLog(process, "Meetpoint portal:", 60_000, "platform");
      return process;
    };
    log("starting the platform");
    let platform = await startPlatform();
    await waitForLog(platform, "You will choose your own password", 5000, "platform");
    const oneTime = platform.log.text.match(/one-time password\n\n {4}(\S+)/)?.[1] ?? "";

    const hosts = { [PLATFORM_NAME]: PLATFORM_HOST_ADDRESS };
    const admin = new PortalClient(PORTAL, hosts);
    const adminSignIn = await admin.firstSignIn("admin", oneTime);

    // ---- master data, as an admin enters it -------------------------------------------------
    log("entering master data and the identity provider");
    const providerId = await enterLabProvider(admin, idp);
    const sites: Site[] = [];
    for (const [index, name, group] of [
      [0, "ACME", "acme-service"],
      [1, "BOLT", "bolt-service"],
    ] as const) {
      const entered = await enterSite(admin, {
        name,
        group,
        providerId,
        machineAddress: MACHINE_ADDRESS,
      });
      const { customerId, machineId, proxyAddress } = entered;
      const gateway = { id: entered.gatewayId, bundle: entered.bundle };

      // The site: a gateway between the WAN and a machine LAN that is the same at both sites.
      const tag = name.toLowerCase().slice(0, 4);
      const gatewayNs = ns(`gw${tag}`);
      const machineNs = ns(`lan${tag}`);
      const uplink = link(
        wan,
        `198.18.${143 + index}.1/30`,
        gatewayNs,
        `198.18.${143 + index}.2/30`,
      );
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
        gatewayId: gateway.id,
        bundle: gateway.bundle,
        machineId,
        proxyAddress,
        gatewayNs,
        machineNs,
        wanDevice,
        wanPeer: uplink.aName,
        operatorUrl,
        apiToken,
        agent,
        local: (method, path) => localApi(operatorUrl, apiToken, method, path),
        restartAgent: async () => {
          site.agent.child.kill("SIGTERM");
          await site.agent.child.exited;
          site.agent = await startAgent();
        },
      };
      sites.push(site);
      log(
        `site ${name}: gateway ${gateway.id}, machine ${MACHINE_ADDRESS} as ${proxyAddress}, operator UI ${operatorUrl}`,
      );
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
      technician: async (username = "tina") => {
        const user = TECHNICIANS.find((t) => t.username === username);
        const client = new PortalClient(PORTAL, hosts);
        await client.signInWithProvider("lab", username, user?.password ?? "");
        return client;
      },
      openvpn: async (profile) => {
        const file = join(dir, `technician-${crypto.randomUUID()}.ovpn`);
        writeFileSync(file, profile, { mode: 0o600 });
        const child = technicianNs.spawn(["openvpn", "--config", file, "--verb", "3"]);
        const process = { child, log: new OutputLog(child) };
        const connected = await eventually(
          async () =>
            process.log.has("Initialization Sequence Completed") || process.log.has("AUTH_FAILED"),
          30_000,
          100,
        );
        if (!connected || !process.log.has("Initialization Sequence Completed")) {
          child.kill("SIGTERM");
          await child.exited;
          throw new Error(
            connected
              ? "the platform refused the connection (AUTH_FAILED)"
              : `the technician's openvpn did not connect:\n${process.log.text.slice(-1500)}`,
          );
        }
        return {
          ...process,
          stop: async () => {
            child.kill("SIGTERM");
            await child.exited;
          },
        };
      },
      fetchFromTechnician: (url, timeoutMs = 1500) => {
        const script = `try { const r = await fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(${timeoutMs}) }); process.stdout.write("OK:" + await r.text()); } catch { process.stdout.write("NONE"); }`;
        const out = technicianNs.exec("bun", "-e", script);
        return out.startsWith("OK:") ? out.slice(3) : null;
      },
      modbusFromTechnician: (host) => {
        const script = `import { readHoldingRegisters } from ${JSON.stringify(join(ROOT, "lab/src/simulators/modbus.ts"))}; try { const [v] = await readHoldingRegisters(${JSON.stringify(host)}, 502, 0, 1, 1500); process.stdout.write(String(v)); } catch { process.stdout.write("NONE"); }`;
        const out = technicianNs.exec("bun", "-e", script);
        return out === "NONE" ? null : Number(out);
      },
      bannerFromTechnician: (host, port) => {
        const script = `import { connect } from "node:net"; const s = connect({ host: ${JSON.stringify(host)}, port: ${port} }); const t = setTimeout(() => { process.stdout.write("NONE"); process.exit(0); }, 1500); s.on("data", (d) => { clearTimeout(t); process.stdout.write("OK:" + d.toString().split("\\n")[0]); process.exit(0); }); s.on("error", () => { clearTimeout(t); process.stdout.write("NONE"); process.exit(0); });`;
        const out = technicianNs.exec("bun", "-e", script);
        return out.startsWith("OK:") ? out.slice(3).trim() : null;
      },
      platformCli: async (args) => {
        lab.platform.child.kill("SIGTERM");
        await lab.platform.child.exited;
        const child = platformNs.spawn(["bun", join(ROOT, "platform/src/cli.ts"), ...args], {
          env: platformEnv,
        });
        const process = { child, log: new OutputLog(child) };
        const code = await child.exited;
        await Bun.sleep(50);
        return { code, output: process.log.text };
      },
      stopPostgres: async () => {
        const running = postgres as Process | null;
        if (!running) throw new Error("this lab runs on PGlite");
        spawnSync("runuser", [
          "-u",
          "postgres",
          "--",
          join(pgBin ?? "", "pg_ctl"),
          "-D",
          pgDir,
          "-m",
          "fast",
          "-w",
          "stop",
        ]);
        await running.child.exited;
        postgres = null;
      },
      startPostgres,
      restartPlatform: async () => {
        lab.platform.child.kill("SIGTERM");
        await lab.platform.child.exited;
        lab.platform = await startPlatform();
        platform = lab.platform;
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
