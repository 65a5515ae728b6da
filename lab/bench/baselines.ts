// The same run's baselines for the throughput figure: a bare two-hop OpenVPN (technician → server
// → gateway → machine, the product's transport settings, none of its logic: no management
// socket decisions, no firewall, no NAT) and a plain routed veth path (the ceiling).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, link, Netns, OutputLog } from "../src/netns.ts";
import { iperf } from "./iperf.ts";

function openssl(args: string[], cwd: string) {
  const result = spawnSync("openssl", args, { cwd });
  if (result.status !== 0) throw new Error(`openssl ${args[0]}: ${result.stderr}`);
}

/** A CA and three certificates (server, technician, gateway), EC P-256, for the bare OpenVPN. */
function certificates(dir: string) {
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=bare-ca",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
    ],
    dir,
  );
  for (const [name, usage] of [
    ["server", "serverAuth"],
    ["tech", "clientAuth"],
    ["gw", "clientAuth"],
  ]) {
    openssl(
      [
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        `/CN=${name}`,
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.csr`,
      ],
      dir,
    );
    writeFileSync(
      join(dir, `${name}.ext`),
      `extendedKeyUsage=${usage}\nkeyUsage=digitalSignature\n`,
    );
    openssl(
      [
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        `${name}.ext`,
        "-out",
        `${name}.crt`,
      ],
      dir,
    );
  }
  const key = spawnSync("openvpn", ["--genkey", "tls-crypt", join(dir, "tc.key")]);
  if (key.status !== 0) throw new Error("openvpn --genkey failed");
}

const SHARED = [
  "dev tun",
  "proto tcp-client",
  "tls-version-min 1.2",
  "data-ciphers AES-256-GCM:CHACHA20-POLY1305",
  "verb 3",
];

/**
 * Technician — hub — gateway — machine LAN, each a namespace `<prefix>-…`: the hub reaches the
 * technician on 198.18.<net>.0/30 and the gateway on <net+1>.0/30, the LAN is <net+2>.0/24 with
 * the machine at .10 routed via the gateway; hub and gateway forward. Each namespace goes onto
 * `made` as soon as it exists, so a failure half-way removes the ones before it.
 */
function fourHops(prefix: string, hubName: string, net: number, made: Netns[]) {
  const ns = (name: string) => {
    const created = Netns.create(`${prefix}-${name}`);
    made.push(created);
    return created;
  };
  const [hub, tech, gw, lan] = [ns(hubName), ns("tech"), ns("gw"), ns("lan")];
  link(hub, `198.18.${net}.1/30`, tech, `198.18.${net}.2/30`);
  link(hub, `198.18.${net + 1}.1/30`, gw, `198.18.${net + 1}.2/30`);
  link(gw, `198.18.${net + 2}.1/24`, lan, `198.18.${net + 2}.10/24`);
  lan.exec("ip", "route", "add", "default", "via", `198.18.${net + 2}.1`);
  for (const n of [hub, gw]) n.exec("sysctl", "-qw", "net.ipv4.ip_forward=1");
  return { hub, tech, gw, lan };
}

export interface Path {
  /** Bits per second technician → machine over `seconds`. */
  measure(seconds: number): Promise<number>;
  stop(): void;
}

/** A bare two-hop OpenVPN, up until stop(). */
export async function bareOpenvpnPath(): Promise<Path> {
  const dir = mkdtempSync(join(tmpdir(), "meetpoint-bare-"));
  const made: Netns[] = [];
  try {
    certificates(dir);
    const { hub: server, tech, gw, lan } = fourHops("bare", "srv", 161, made);
    const ccd = join(dir, "ccd");
    spawnSync("mkdir", ["-p", ccd]);
    writeFileSync(join(ccd, "gw"), "iroute 198.18.163.0 255.255.255.0\n");
    writeFileSync(join(ccd, "tech"), 'push "route 198.18.163.0 255.255.255.0"\n');
    writeFileSync(
      join(dir, "server.conf"),
      [
        "mode server",
        "tls-server",
        "proto tcp-server",
        "port 1194",
        "dev tun",
        "topology subnet",
        "server 100.96.0.0 255.255.255.0",
        "route 198.18.163.0 255.255.255.0",
        `client-config-dir ${ccd}`,
        `ca ${dir}/ca.crt`,
        `cert ${dir}/server.crt`,
        `key ${dir}/server.key`,
        "dh none",
        `tls-crypt ${dir}/tc.key`,
        "remote-cert-tls client",
        "tls-version-min 1.2",
        "data-ciphers AES-256-GCM:CHACHA20-POLY1305",
        "keepalive 10 60",
        "verb 3",
      ].join("\n"),
    );
    const serverProcess = server.spawn(["openvpn", "--config", join(dir, "server.conf")]);
    const serverLog = new OutputLog(serverProcess);
    await eventually(async () => serverLog.has("Initialization Sequence Completed"), 10_000);
    for (const [ns, name] of [
      [tech, "tech"],
      [gw, "gw"],
    ] as const) {
      writeFileSync(
        join(dir, `${name}.conf`),
        [
          "client",
          ...SHARED,
          `remote ${ns === tech ? "198.18.161.1" : "198.18.162.1"} 1194`,
          "nobind",
          `ca ${dir}/ca.crt`,
          `cert ${dir}/${name}.crt`,
          `key ${dir}/${name}.key`,
          `tls-crypt ${dir}/tc.key`,
          "remote-cert-tls server",
        ].join("\n"),
      );
      const client = ns.spawn(["openvpn", "--config", join(dir, `${name}.conf`)]);
      const clientLog = new OutputLog(client);
      if (
        !(await eventually(async () => clientLog.has("Initialization Sequence Completed"), 15_000))
      )
        throw new Error(`bare ${name} client did not connect:\n${clientLog.text.slice(-1500)}`);
    }
    return {
      measure: (seconds) => iperf(lan, "198.18.163.10", tech, seconds),
      stop: () => {
        for (const n of made) n.destroy();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    for (const n of made) n.destroy();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Plain routed veths (no VPN), up until stop(): the ceiling. */
export async function vethPath(): Promise<Path> {
  const made: Netns[] = [];
  try {
    const { hub: router, tech, gw, lan } = fourHops("veth", "rtr", 165, made);
    tech.exec("ip", "route", "add", "default", "via", "198.18.165.1");
    router.exec("ip", "route", "add", "198.18.167.0/24", "via", "198.18.166.2");
    gw.exec("ip", "route", "add", "default", "via", "198.18.166.1");
    return {
      measure: (seconds) => iperf(lan, "198.18.167.10", tech, seconds),
      stop: () => {
        for (const n of made) n.destroy();
      },
    };
  } catch (error) {
    for (const n of made) n.destroy();
    throw error;
  }
}
