// The jump workspace image against a real dockerd: built by workspace/image.sh, run with the
// hardening of issue 17 on a Docker network of its own (pinned in 198.19.128.0/17), the supervisor's
// report received on the network's gateway, the egress allow-list, the RFB handshake, what the
// desktop user cannot do, and real OpenVPN and IPsec (PSK and certificate) tunnels to concentrator containers.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { resolve } from "node:path";
import type { WorkspaceReport, WorkspaceSpec } from "@meetpoint/common";
import { IPSEC_FILES, waitFor } from "@meetpoint/common";
import Docker from "dockerode";
import { parseAllowList, renderEgressRuleset } from "../../platform/src/workspaces/egress.ts";
import {
  type IpsecSettings,
  ipsecEndpoints,
  parseIpsecProfile,
  renderSwanctlConf,
} from "../../platform/src/workspaces/ipsec-profile.ts";
import { startWorkspace } from "../src/runtime.ts";
import { strongswanConf } from "../src/vpn.ts";
import { exec, firstBytes, prerequisiteMissing } from "./support.ts";

const docker = new Docker();
const repo = resolve(import.meta.dir, "../..");
const suffix = Math.random().toString(36).slice(2, 8);
// A /24 in 198.19.128.0/17 picked per run: outside Docker's address pools (198.19.0.0/17), its
// default bridge (198.19.250.0/24) and the lab's addresses, and parallel runs do not collide.
const octet = 130 + Math.floor(Math.random() * 100);
const subnet = `198.19.${octet}.0/24`;
const gateway = `198.19.${octet}.1`;
const concentratorIp = `198.19.${octet}.10`;
// The customer's side of the IPsec test: its own network (the next /24), reached through a NAT
// router as over the Internet; its machine network 10.77.0.0/24 behind its strongSwan.
const customerOctet = octet + 1;
const customerSubnet = `198.19.${customerOctet}.0/24`;
const routerIp = `198.19.${octet}.20`;
const routerCustomerIp = `198.19.${customerOctet}.20`;
const responderIp = `198.19.${customerOctet}.10`;
const MACHINE_IP = "10.77.0.1";
const TOKEN = `token-${crypto.randomUUID()}`;
const VNC_PASSWORD = "Vnc-7x2q";

const missing = await prerequisiteMissing(docker);
if (missing && process.env.CI === "true")
  throw new Error(`workspace test prerequisite missing in CI: ${missing}`);
if (missing) console.warn(`skipping workspace image tests: ${missing}`);

interface Received {
  authorization: string | null;
  report: WorkspaceReport;
}
const received: Received[] = [];
let reportServer: ReturnType<typeof Bun.serve> | undefined;
let otherServer: ReturnType<typeof Bun.serve> | undefined;
let network: Docker.Network | undefined;
const containers: Docker.Container[] = [];
let customerNetwork: Docker.Network | undefined;
let image = "";

function allowList(reportPort: number): string {
  // What the control side's renderer produces, by hand: egress only to the report listener and
  // the concentrator's OpenVPN port; inbound only VNC.
  return `table inet meetpoint_workspace {
  chain output {
    type filter hook output priority 0; policy drop;
    oif "lo" accept
    ct state established,related accept
    ip daddr ${gateway} tcp dport ${reportPort} accept
    ip daddr ${concentratorIp} udp dport 1194 accept
    oifname "tun*" accept
  }
  chain input {
    type filter hook input priority 0; policy drop;
    iif "lo" accept
    ct state established,related accept
    tcp dport 5900 accept
    iifname "tun*" accept
  }
}
`;
}

async function runWorkspace(spec: WorkspaceSpec, name: string): Promise<Docker.Container> {
  const container = await startWorkspace(docker, {
    image,
    name,
    network: network?.id ?? "",
    spec,
    limits: { memoryBytes: 1024 ** 3, cpus: 1, pids: 256 },
    reportSeconds: 2,
  });
  containers.push(container);
  return container;
}

async function containerIp(container: Docker.Container): Promise<string> {
  const info = await container.inspect();
  return Object.values(info.NetworkSettings.Networks)[0]?.IPAddress ?? "";
}

describe.skipIf(missing !== null)("jump workspace image", () => {
  let workspace: Docker.Container;
  let workspaceIp = "";
  let reportPort = 0;

  beforeAll(async () => {
    const tagFile = `/tmp/meetpoint-workspace-tag-${suffix}`;
    const build = Bun.spawnSync(["bash", "workspace/image.sh"], {
      cwd: repo,
      env: { ...process.env, MEETPOINT_WORKSPACE_IMAGE_FILE: tagFile },
      stdout: "inherit",
      stderr: "pipe",
    });
    if (build.exitCode !== 0) throw new Error(`workspace/image.sh: ${build.stderr.toString()}`);
    image = (await Bun.file(tagFile).text()).trim();
    await Bun.file(tagFile).delete();
    network = await docker.createNetwork({
      Name: `meetpoint-ws-test-${suffix}`,
      Driver: "bridge",
      IPAM: { Config: [{ Subnet: subnet, Gateway: gateway }] },
    });
    reportServer = Bun.serve({
      hostname: gateway,
      port: 0,
      async fetch(request) {
        received.push({
          authorization: request.headers.get("authorization"),
          report: await request.json(),
        });
        return new Response(null, { status: 204 });
      },
    });
    reportPort = reportServer.port ?? 0;
    otherServer = Bun.serve({
      hostname: gateway,
      port: 0,
      fetch: () => new Response("not allowed"),
    });
    workspace = await runWorkspace(
      {
        vnc: { password: VNC_PASSWORD },
        // No CA: OpenVPN refuses the options, the supervisor reports it (the real tunnel: below).
        profile: {
          kind: "openvpn",
          config: `client\ndev tun\nproto udp\nremote ${concentratorIp} 1194\nnobind\n`,
        },
        firewall: allowList(reportPort),
        report: { url: `http://${gateway}:${reportPort}/report`, token: TOKEN },
      },
      `meetpoint-ws-test-${suffix}`,
    );
    workspaceIp = await containerIp(workspace);
  }, 600_000);

  afterAll(async () => {
    for (const container of containers) await container.remove({ force: true }).catch(() => {});
    await network?.remove().catch(() => {});
    await customerNetwork?.remove().catch(() => {});
    reportServer?.stop(true);
    otherServer?.stop(true);
  });

  test("Xvnc answers the RFB handshake on 5900 from the workspace network", async () => {
    let version = "";
    await waitFor(
      async () => {
        version = await firstBytes(workspaceIp, 5900);
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(version).toBe("RFB 003.008\n");
  }, 30_000);

  test("the supervisor reports to the platform with its token, and OpenVPN's error", async () => {
    const reported = await waitFor(
      () =>
        received.some(
          (r) => r.report.vpn === "down" && /Options error/.test(r.report.lastError ?? ""),
        ),
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(reported).toBe(true);
    expect(received.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    // Periodic reports keep coming (every 2 s in this test).
    const count = received.length;
    expect(await waitFor(() => received.length > count, { timeoutMs: 5000 })).toBe(true);
  }, 30_000);

  test("the desktop runs as desk, Xvnc as its own user, the supervisor as root", async () => {
    const { output } = await exec(docker, workspace, "root", ["ps", "-eo", "user:8,comm"]);
    expect(output).toMatch(/vnc\s+Xvnc/);
    expect(output).toMatch(/desk\s+openbox/);
    expect(output).toMatch(/desk\s+xterm/);
    expect(output).toMatch(/root\s+bun/);
  }, 30_000);

  test("the browser renders a page for the desktop user under this hardening", async () => {
    const script = [
      "cd /home/desk",
      "printf '<h1 style=\"font-size:96px\">Machine web UI</h1>' > page.html",
      "timeout 60 firefox-esr --headless --window-size 800,600 --screenshot /home/desk/shot.png file:///home/desk/page.html",
      "timeout 60 firefox-esr --headless --window-size 800,600 --screenshot /home/desk/blank.png about:blank",
      "head -c 8 shot.png | od -An -c | tr -d ' '",
      "stat -c %s shot.png blank.png",
    ].join(" && ");
    const { code, output } = await exec(docker, workspace, "desk", ["sh", "-c", script]);
    if (code !== 0) console.log(output.slice(-1500));
    expect(code).toBe(0);
    expect(output).toContain("211PNG\\r\\n032\\n");
    const [page, blank] = output.trim().split("\n").slice(-2).map(Number);
    // The rendered heading makes the picture measurably larger than an empty page's.
    expect(page ?? 0).toBeGreaterThan((blank ?? 0) + 2000);
  }, 120_000);

  test("the desktop user cannot install, raise privileges, write the root FS or read secrets", async () => {
    const attempts: Record<string, string[]> = {
      "apt-get install": ["apt-get", "install", "-y", "hello"],
      "dpkg -i": ["dpkg", "-i", "/dev/null"],
      sudo: ["sudo", "true"],
      su: ["su", "-c", "true", "root"],
      "write /usr": ["touch", "/usr/x"],
      "read the VNC password": ["cat", "/tmp/.meetpoint-vnc/passwd"],
      "read the supervisor's env": ["sh", "-c", "cat /proc/$(pgrep -o -x bun)/environ"],
      "stop the supervisor": ["sh", "-c", "kill $(pgrep -o -x bun)"],
      "stop the VNC server": ["sh", "-c", "kill $(pgrep -x Xvnc)"],
      "find the spec in its own env": ["sh", "-c", `env | grep -q -e ${VNC_PASSWORD} -e ${TOKEN}`],
      "read the VPN profile": ["cat", "/run/meetpoint/vpn/client.ovpn"],
      "change the firewall": ["nft", "flush", "ruleset"],
      "run bun (the supervisor's runtime)": ["/usr/local/bin/bun", "--version"],
    };
    const succeeded: string[] = [];
    for (const [what, cmd] of Object.entries(attempts)) {
      const { code } = await exec(docker, workspace, "desk", cmd);
      if (code === 0) succeeded.push(what);
    }
    expect(succeeded).toEqual([]);
    // The spec went to the supervisor's stdin: no secret in the container's configuration.
    const inspected = JSON.stringify(await workspace.inspect());
    expect(inspected).not.toContain(VNC_PASSWORD);
    expect(inspected).not.toContain(TOKEN);
    // The same exec works where desk may write: the failures above are refusals, not a broken exec.
    expect((await exec(docker, workspace, "desk", ["touch", "/home/desk/notes.txt"])).code).toBe(0);
    expect((await exec(docker, workspace, "desk", ["id", "-u"])).output.trim()).toBe("1000");
    // No router: forwarding off in the workspace's namespace, whatever the host has.
    const forwarding = await exec(docker, workspace, "desk", [
      "cat",
      "/proc/sys/net/ipv4/ip_forward",
      "/proc/sys/net/ipv6/conf/all/forwarding",
    ]);
    expect(forwarding.output.split(/\s+/).filter(Boolean)).toEqual(["0", "0"]);
    // Ports below 1024 (IKE's 500/4500) stay the supervisor's.
    const bind = async (port: number) =>
      (
        await exec(docker, workspace, "desk", [
          "perl",
          "-MIO::Socket::INET",
          "-e",
          `print IO::Socket::INET->new(LocalPort => ${port}, Proto => "udp") ? "bound" : "refused: $!"`,
        ])
      ).output;
    expect(await bind(5000)).toBe("bound");
    expect(await bind(500)).toContain("refused: Permission denied");
    // No file with a setuid or setgid bit anywhere in the image.
    const setuid = await exec(docker, workspace, "root", [
      "find",
      "/",
      "-xdev",
      "-type",
      "f",
      "-perm",
      "/6000",
    ]);
    expect(setuid.output.trim()).toBe("");
  }, 60_000);

  test("the customer's OpenVPN comes up and the machine behind it answers the desktop user", async () => {
    // The customer's concentrator: OpenVPN (static key, point to point) and a machine's web UI
    // on the far side of the tunnel, in a container from the same image.
    const concentrator = await docker.createContainer({
      name: `meetpoint-ws-test-${suffix}-concentrator`,
      Image: image,
      Entrypoint: ["sh", "-c"],
      Cmd: [
        `openvpn --genkey secret /run/key && openvpn --dev tun --proto udp --lport 1194 \\
          --ifconfig 10.99.0.1 10.99.0.2 --secret /run/key --cipher AES-256-CBC --ping 1 --verb 3 &
        exec bun -e 'Bun.serve({ port: 8080, fetch: () => new Response("machine web UI") })'`,
      ],
      HostConfig: {
        NetworkMode: network?.id,
        Tmpfs: { "/run": "rw,mode=0700" },
        CapDrop: ["ALL"],
        CapAdd: ["NET_ADMIN"],
        Devices: [
          { PathOnHost: "/dev/net/tun", PathInContainer: "/dev/net/tun", CgroupPermissions: "rwm" },
        ],
      },
      NetworkingConfig: {
        EndpointsConfig: {
          [`meetpoint-ws-test-${suffix}`]: { IPAMConfig: { IPv4Address: concentratorIp } },
        },
      },
    });
    containers.push(concentrator);
    await concentrator.start();
    // The concentrator's static key, generated there, becomes part of the customer's profile.
    let key = "";
    await waitFor(
      async () => {
        key = (await exec(docker, concentrator, "root", ["cat", "/run/key"])).output;
        return key.includes("END OpenVPN Static key");
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    const token = `token-${crypto.randomUUID()}`;
    const vpnWorkspace = await runWorkspace(
      {
        vnc: { password: VNC_PASSWORD },
        profile: {
          kind: "openvpn",
          config: [
            "dev tun",
            "proto udp",
            `remote ${concentratorIp} 1194`,
            "nobind",
            "ifconfig 10.99.0.2 10.99.0.1",
            "cipher AES-256-CBC",
            // Point to point meets at the first ping (10 s by default).
            "ping 1",
            `<secret>\n${key.trim()}\n</secret>`,
            "",
          ].join("\n"),
        },
        firewall: allowList(reportPort),
        report: { url: `http://${gateway}:${reportPort}/report`, token },
      },
      `meetpoint-ws-test-${suffix}-vpn`,
    );
    const ours = () =>
      received.filter((r) => r.authorization === `Bearer ${token}`).map((r) => r.report);
    expect(
      await waitFor(() => ours().some((r) => r.vpn === "up"), {
        timeoutMs: 30_000,
        intervalMs: 100,
      }),
    ).toBe(true);
    const page = await exec(docker, vpnWorkspace, "desk", [
      "timeout",
      "5",
      "bash",
      "-c",
      "exec 3<>/dev/tcp/10.99.0.1/8080; printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3",
    ]);
    expect(page.output).toContain("machine web UI");
    // The concentrator gone, the tunnel goes down and the report says so (OpenVPN's ping timeout
    // is long; stopping the workspace reports down at once).
    await vpnWorkspace.stop({ t: 10 });
    expect(ours().at(-1)?.vpn).toBe("down");
  }, 90_000);

  test("an IPsec profile: charon runs, swanctl loads the connection and initiates it", async () => {
    // This kernel may lack ESP (CONFIG_INET_ESP), so the tunnel itself is not brought up here:
    // the load path and the state reported while the peer does not answer are.
    const token = `token-${crypto.randomUUID()}`;
    const ipsec = await runWorkspace(
      {
        vnc: { password: VNC_PASSWORD },
        profile: {
          kind: "ipsec",
          swanctl: `connections {
  customer {
    remote_addrs = ${concentratorIp}
    local { auth = psk
      id = workspace@vendor.example }
    remote { auth = psk
      id = concentrator.customer.example }
    children { machines { remote_ts = 10.77.0.0/24
      start_action = start } }
  }
}
secrets { ike-customer { id = concentrator.customer.example
  secret = "a-long-shared-secret-0123" } }
`,
        },
        firewall: allowList(reportPort),
        report: { url: `http://${gateway}:${reportPort}/report`, token },
      },
      `meetpoint-ws-test-${suffix}-ipsec`,
    );
    const sas = async () => (await exec(docker, ipsec, "root", ["swanctl", "--list-sas"])).output;
    expect(
      await waitFor(async () => /customer: #\d+, CONNECTING/.test(await sas()), {
        timeoutMs: 15_000,
        intervalMs: 250,
      }),
    ).toBe(true);
    const reports = received
      .filter((r) => r.authorization === `Bearer ${token}`)
      .map((r) => r.report);
    expect(reports.at(-1)).toMatchObject({ vpn: "connecting" });
    expect(reports.some((r) => r.lastError)).toBe(false);
    // charon's log reaches the container's (its stderr, through the supervisor).
    const logs = (await ipsec.logs({ stdout: true, stderr: true })).toString("latin1");
    expect(logs).toMatch(/charon: .*initiating IKE_SA customer\[\d+\] to 198\.19\./);
    // The desktop user can neither read the profile nor talk to charon.
    expect(
      (await exec(docker, ipsec, "desk", ["cat", "/run/meetpoint/vpn/swanctl.conf"])).code,
    ).not.toBe(0);
    expect((await exec(docker, ipsec, "desk", ["swanctl", "--list-sas"])).code).not.toBe(0);
    await ipsec.remove({ force: true });
  }, 30_000);

  // The customer's side of the IPsec tests, made by the first that needs it: its network and a
  // router masquerading the workspace network towards it, so a concentrator sees the router as its
  // IKE peer (as it would see the workspace host's public address) and the workspace's own address
  // only inside the tunnel.
  const hardened = {
    Tmpfs: { "/run": "rw,mode=0700" },
    CapDrop: ["ALL"],
    CapAdd: ["NET_ADMIN", "NET_BIND_SERVICE"],
  };
  let router: Docker.Container | undefined;
  const logs = async (c: Docker.Container) =>
    (await c.logs({ stdout: true, stderr: true })).toString("latin1");
  const ready = async (container: Docker.Container, cmd: string[], pattern: RegExp, ms = 15_000) =>
    waitFor(async () => pattern.test((await exec(docker, container, "root", cmd)).output), {
      timeoutMs: ms,
      intervalMs: 200,
    });
  // An HTTP GET to the machine behind the concentrator, through bash's /dev/tcp.
  const get = (container: Docker.Container, user: string, port: number) =>
    exec(docker, container, user, [
      "timeout",
      "5",
      "bash",
      "-c",
      `exec 3<>/dev/tcp/${MACHINE_IP}/${port}; printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3`,
    ]);

  async function customerRouter(): Promise<Docker.Container> {
    if (router) return router;
    customerNetwork = await docker.createNetwork({
      Name: `meetpoint-ws-test-${suffix}-customer`,
      Driver: "bridge",
      IPAM: { Config: [{ Subnet: customerSubnet, Gateway: `198.19.${customerOctet}.1` }] },
    });
    const made = await docker.createContainer({
      name: `meetpoint-ws-test-${suffix}-router`,
      Image: image,
      Entrypoint: ["sh", "-c"],
      Cmd: [
        `nft add table ip nat && nft 'add chain ip nat post { type nat hook postrouting priority 100; }' \\
          && nft add rule ip nat post ip saddr ${subnet} ip daddr ${customerSubnet} masquerade \\
          && exec sleep infinity`,
      ],
      HostConfig: {
        ...hardened,
        NetworkMode: network?.id,
        Sysctls: { "net.ipv4.ip_forward": "1" },
      },
      NetworkingConfig: {
        EndpointsConfig: {
          [`meetpoint-ws-test-${suffix}`]: { IPAMConfig: { IPv4Address: routerIp } },
        },
      },
    });
    containers.push(made);
    await customerNetwork.connect({
      Container: made.id,
      EndpointConfig: { IPAMConfig: { IPv4Address: routerCustomerIp } },
    });
    await made.start();
    // Ready before a workspace sends its first IKE packet: a packet forwarded before the
    // masquerade rule exists leaves a conntrack entry without NAT that its retransmits then follow.
    expect(await ready(made, ["nft", "list", "table", "ip", "nat"], /masquerade/)).toBe(true);
    router = made;
    return made;
  }

  /**
   * The customer's concentrator at `ip`: strongSwan from the same image (userspace IPsec, which
   * works with or without kernel ESP) with `swanctl` (its connection "workspace") and `files`
   * (absolute path → content), the machine network 10.77.0.0/24 behind it, and the machine's web
   * UI (8080, which names the client address it sees) and another port (8081).
   */
  async function concentrator(
    name: string,
    ip: string,
    swanctl: string,
    files: Record<string, string> = {},
  ): Promise<Docker.Container> {
    await customerRouter();
    const responder = await docker.createContainer({
      name: `meetpoint-ws-test-${suffix}-${name}`,
      Image: image,
      Entrypoint: ["sh", "-c"],
      Env: [
        `SS_CONF=${strongswanConf("libipsec")}`,
        `SWANCTL_CONF=${swanctl}`,
        `FILES=${JSON.stringify(files)}`,
      ],
      Cmd: [
        `ip addr add ${MACHINE_IP}/32 dev eth0 \\
        && printf '%s' "$SS_CONF" > /run/strongswan.conf && printf '%s' "$SWANCTL_CONF" > /run/swanctl.conf \\
        && bun -e 'const fs = require("node:fs"); for (const [p, c] of Object.entries(JSON.parse(process.env.FILES))) { fs.mkdirSync(require("node:path").dirname(p), { recursive: true }); fs.writeFileSync(p, c); }' \\
        && export STRONGSWAN_CONF=/run/strongswan.conf && /usr/lib/ipsec/charon &
        (until STRONGSWAN_CONF=/run/strongswan.conf swanctl --load-all --noprompt --file /run/swanctl.conf; do sleep 0.2; done) &
        bun -e 'Bun.serve({ hostname: "${MACHINE_IP}", port: 8081, fetch: () => new Response("other service") })' &
        exec bun -e 'Bun.serve({ hostname: "${MACHINE_IP}", port: 8080, fetch: (r, s) => new Response(r.url.endsWith("/big") ? new Uint8Array(8e6) : "machine web UI for " + s.requestIP(r)?.address) })'`,
      ],
      HostConfig: {
        ...hardened,
        NetworkMode: customerNetwork?.id,
        Devices: [
          { PathOnHost: "/dev/net/tun", PathInContainer: "/dev/net/tun", CgroupPermissions: "rwm" },
        ],
      },
      NetworkingConfig: {
        EndpointsConfig: {
          [`meetpoint-ws-test-${suffix}-customer`]: { IPAMConfig: { IPv4Address: ip } },
        },
      },
    });
    containers.push(responder);
    await responder.start();
    const loaded = await ready(
      responder,
      ["env", "STRONGSWAN_CONF=/run/strongswan.conf", "swanctl", "--list-conns"],
      /^workspace: IKEv2/m,
      // charon's start and load take seconds on a loaded machine.
      45_000,
    );
    if (!loaded)
      console.log(`${name} never loaded its connection:`, (await logs(responder)).slice(-4000));
    expect(loaded).toBe(true);
    return responder;
  }

  /**
   * A workspace with an IPsec `profile` for `settings`, its egress ruleset as the platform renders
   * it (the concentrator's IKE/ESP at `address` and the machine's 8080 only), routed to the
   * customer's network through the router; its reports.
   */
  async function ipsecWorkspace(
    name: string,
    settings: IpsecSettings,
    address: string,
    profile: Extract<WorkspaceSpec["profile"], { kind: "ipsec" }>,
  ) {
    const token = `token-${crypto.randomUUID()}`;
    const firewall = renderEgressRuleset({
      uplink: "eth0",
      tunnel: "ipsec",
      vpnEndpoints: ipsecEndpoints(settings).map((e) => ({ ...e, address })),
      allowList: parseAllowList(`${MACHINE_IP} tcp 8080`),
      relayAddresses: [gateway],
      report: { address: gateway, port: reportPort },
    });
    const container = await runWorkspace(
      {
        vnc: { password: VNC_PASSWORD },
        profile,
        firewall,
        report: { url: `http://${gateway}:${reportPort}/report`, token },
      },
      `meetpoint-ws-test-${suffix}-${name}`,
    );
    // Its way to the customer's network: through the router (the test's Internet).
    const route = await exec(docker, container, "root", [
      "ip",
      "route",
      "add",
      customerSubnet,
      "via",
      routerIp,
    ]);
    expect(route).toMatchObject({ code: 0 });
    const reports = () =>
      received.filter((r) => r.authorization === `Bearer ${token}`).map((r) => r.report);
    return { container, reports };
  }

  /** Waits for `ws` to report up; on a timeout prints the logs of both sides and the router. */
  async function expectUp(
    ws: Awaited<ReturnType<typeof ipsecWorkspace>>,
    responder: Docker.Container,
  ): Promise<void> {
    const upInTime = await waitFor(() => ws.reports().some((r) => r.vpn === "up"), {
      timeoutMs: 45_000,
      intervalMs: 200,
    });
    if (!upInTime && router)
      console.log(
        `workspace:\n${(await logs(ws.container)).slice(-3000)}\nconcentrator:\n${(await logs(responder)).slice(-3000)}\nrouter:\n${await logs(router)}`,
      );
    expect(upInTime).toBe(true);
  }

  test("IPsec: the tunnel comes up (kernel ESP or strongSwan's userspace IPsec), the desktop user reaches the listed port behind it and nothing else; a wrong PSK is reported", async () => {
    const psk = `psk-${crypto.randomUUID()}`;
    const workspaceId = "workspace@vendor.example";
    const concentratorId = "concentrator.customer.example";
    const started = performance.now();
    const responder = await concentrator(
      "responder",
      responderIp,
      `connections {
  workspace {
    version = 2
    local_addrs = ${responderIp}
    local { auth = psk
      id = ${concentratorId} }
    remote { auth = psk
      id = ${workspaceId} }
    children { machines { local_ts = 10.77.0.0/24
      remote_ts = ${subnet} } }
  }
}
secrets { ike-workspace { id = ${workspaceId}
  secret = "${psk}" } }
`,
    );

    // The workspace: swanctl.conf and the egress ruleset as the platform renders them.
    const settings = {
      remoteAddress: responderIp,
      localId: workspaceId,
      remoteId: concentratorId,
      auth: "psk" as const,
      certificate: null,
      remoteSubnets: ["10.77.0.0/24"],
      ikeProposals: [],
      espProposals: [],
    };
    const start = (name: string, key: string) =>
      ipsecWorkspace(name, settings, responderIp, {
        kind: "ipsec",
        swanctl: renderSwanctlConf(settings, { psk: key }),
      });
    const ws = await start("ipsec-up", psk);
    await expectUp(ws, responder);
    const upAfter = performance.now() - started;

    // The supervisor says which ESP it chose, and the namespace agrees.
    const backend = /supervisor: ipsec: (kernel ESP|strongSwan's userspace IPsec)/.exec(
      await logs(ws.container),
    )?.[1];
    console.log(
      `IPsec backend in this kernel: ${backend}; up ${Math.round(upAfter)} ms after the start`,
    );
    expect(backend).toBeDefined();
    const tun = await exec(docker, ws.container, "root", ["ip", "-br", "link", "show", "ipsec0"]);
    const policies = await exec(docker, ws.container, "root", ["ip", "xfrm", "policy"]);
    if (backend === "kernel ESP") {
      expect(tun.code).not.toBe(0);
      expect(policies.output).toContain("10.77.0.0/24");
    } else {
      expect(tun.output).toMatch(/^ipsec0\s+UNKNOWN|^ipsec0\s+UP/);
      expect(policies.output.trim()).toBe("");
    }

    // The desktop user reaches the listed port behind the concentrator, and through the tunnel:
    // the machine sees the workspace's own address (in the clear it would see the router's).
    const wsIp = await containerIp(ws.container);
    const page = await get(ws.container, "desk", 8080);
    expect(page.output).toContain(`machine web UI for ${wsIp}`);
    // Full-size segments too (the TUN device's MTU is 1400): 8 MB through the tunnel.
    const big = await exec(docker, ws.container, "desk", [
      "timeout",
      "30",
      "bash",
      "-c",
      `s=$(date +%s%N); exec 3<>/dev/tcp/${MACHINE_IP}/8080; printf 'GET /big HTTP/1.0\r\n\r\n' >&3; n=$(wc -c <&3); echo "$n $(( ($(date +%s%N) - s) / 1000000 ))"`,
    ]);
    const [bytes = 0, ms = 0] = big.output.trim().split(" ").map(Number);
    expect(bytes).toBeGreaterThan(8e6);
    console.log(
      `8 MB through the tunnel as desk: ${ms} ms (${(8e3 / Math.max(ms, 1)).toFixed(1)} MB/s)`,
    );
    // The unlisted port answers on the machine itself, not the desktop user through the tunnel.
    expect((await get(responder, "root", 8081)).output).toContain("other service");
    const other = await get(ws.container, "desk", 8081);
    expect(other.code).not.toBe(0);
    expect(other.output).not.toContain("other service");
    await ws.container.remove({ force: true });

    // A wrong PSK: the concentrator refuses, the supervisor reports the tunnel down and why.
    const wrong = await start("ipsec-wrong-psk", `${psk}-wrong`);
    const refused = await waitFor(
      () =>
        wrong
          .reports()
          .some((r) => r.vpn === "down" && r.lastError === "ipsec: authentication failed"),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    if (!refused) console.log(wrong.reports(), (await logs(wrong.container)).slice(-3000));
    expect(refused).toBe(true);
    expect(wrong.reports().some((r) => r.vpn === "up")).toBe(false);
    await wrong.container.remove({ force: true });
    await responder.remove({ force: true });
  }, 150_000);

  test("IPsec with certificates: EC P-256 certificates from the customer's CA bring the tunnel up, the files stay root's; a remote CA that did not issue the concentrator's certificate is reported", async () => {
    const workspaceId = "workspace@vendor.example";
    const concentratorId = "concentrator.customer.example";
    const ip = `198.19.${customerOctet}.11`;
    // The customer's CA, another CA, and the two end-entity certificates (EC P-256, the IKE
    // identities as subjectAltName), made with openssl in the router (the image has it).
    const router = await customerRouter();
    const make = () =>
      exec(docker, router, "root", [
        "sh",
        "-ec",
        `cd "$(mktemp -d)"
      ca() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc -keyout $1.key -out $1.pem -subj "/CN=$1" -days 1 \\
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null; }
      leaf() { openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc -keyout $1.key -out $1.csr -subj "/CN=$2" 2>/dev/null
        printf 'subjectAltName=%s\\n' "$3" > $1.ext
        openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile $1.ext -out $1.pem 2>/dev/null; }
      ca ca && ca other
      leaf ws ${workspaceId} email:${workspaceId} && leaf concentrator ${concentratorId} DNS:${concentratorId}
      for f in ca.pem other.pem ws.pem ws.key concentrator.pem concentrator.key; do echo "== $f"; cat $f; done
      cd / && rm -rf "$OLDPWD"`,
      ]);
    // The PEMs cross Docker's multiplexed exec stream: each is parsed before use (a garbled one,
    // seen once under load, would keep the concentrator from ever loading), made again if not.
    const pem: Record<string, string> = {};
    for (let attempt = 1; ; attempt++) {
      const made = await make();
      expect(made.code).toBe(0);
      for (const part of made.output.split(/^== /m).slice(1)) {
        const [name = "", ...rest] = part.split("\n");
        pem[name] = rest.join("\n").trim();
      }
      const whole = () => {
        for (const name of ["ca.pem", "other.pem", "ws.pem", "concentrator.pem"])
          new X509Certificate(pem[name] ?? "");
        for (const name of ["ws.key", "concentrator.key"]) createPrivateKey(pem[name] ?? "");
        return true;
      };
      let ok = false;
      try {
        ok = whole();
      } catch (error) {
        console.log(`certificates garbled (attempt ${attempt}): ${error}`);
      }
      if (ok) break;
      if (attempt === 3) throw new Error("openssl's output never came through whole");
    }
    const responder = await concentrator(
      "responder-cert",
      ip,
      `connections {
  workspace {
    version = 2
    local_addrs = ${ip}
    local { auth = pubkey
      certs = /run/concentrator.pem
      id = ${concentratorId} }
    remote { auth = pubkey
      cacerts = /run/ca.pem
      id = ${workspaceId} }
    children { machines { local_ts = 10.77.0.0/24
      remote_ts = ${subnet} } }
  }
}
`,
      {
        "/run/concentrator.pem": pem["concentrator.pem"] ?? "",
        "/run/ca.pem": pem["ca.pem"] ?? "",
        // swanctl --file /run/swanctl.conf loads private keys from /run/private.
        "/run/private/concentrator.key": pem["concentrator.key"] ?? "",
      },
    );
    // The profile as the portal stores it (its peer by name: the portal refuses the test's
    // addresses, the platform's own range) and the start spec hands it on (start-spec.ts): the
    // name pinned to the concentrator's address, the PEMs as profile.files.
    const start = (name: string, remoteCa: string) => {
      const profile = parseIpsecProfile({
        remoteAddress: concentratorId,
        localId: workspaceId,
        remoteId: concentratorId,
        auth: "certificate",
        certificate: pem["ws.pem"],
        privateKey: pem["ws.key"],
        remoteCa,
        remoteSubnets: "10.77.0.0/24",
      });
      const { certificate, remoteCa: ca } = profile.settings;
      return ipsecWorkspace(name, profile.settings, ip, {
        kind: "ipsec",
        swanctl: renderSwanctlConf(profile.settings, {}, [ip]),
        files: {
          certificate: certificate ?? "",
          privateKey: profile.secrets.privateKey ?? "",
          remoteCa: ca ?? "",
        },
      });
    };
    const ws = await start("ipsec-cert", pem["ca.pem"] ?? "");
    await expectUp(ws, responder);
    const wsIp = await containerIp(ws.container);
    expect((await get(ws.container, "desk", 8080)).output).toContain(`machine web UI for ${wsIp}`);
    expect((await get(ws.container, "desk", 8081)).code).not.toBe(0);
    // Authenticated by certificate on both sides (charon logs the subject it verified).
    expect(await logs(ws.container)).toContain(
      `authentication of '${concentratorId}' with ECDSA_WITH_SHA256_DER successful`,
    );
    // The files are root's: the desktop user can read none of them, nor list the folders.
    for (const path of [...Object.values(IPSEC_FILES), "/run/meetpoint/vpn/private"]) {
      expect((await exec(docker, ws.container, "root", ["test", "-e", path])).code).toBe(0);
      expect((await exec(docker, ws.container, "desk", ["cat", path])).code).not.toBe(0);
      expect((await exec(docker, ws.container, "desk", ["ls", path])).code).not.toBe(0);
    }
    const modes = await exec(docker, ws.container, "root", [
      "stat",
      "-c",
      "%a %U %n",
      ...Object.values(IPSEC_FILES),
    ]);
    expect(modes.output.trim().split("\n")).toEqual(
      Object.values(IPSEC_FILES).map((p) => `600 root ${p}`),
    );
    await ws.container.remove({ force: true });

    // A remote CA that did not issue the concentrator's certificate: the workspace refuses it.
    const wrong = await start("ipsec-cert-wrong-ca", pem["other.pem"] ?? "");
    const refused = await waitFor(
      () =>
        wrong
          .reports()
          .some(
            (r) =>
              r.vpn === "down" &&
              /^ipsec: authentication failed: no trusted certificate for 'concentrator/.test(
                r.lastError ?? "",
              ),
          ),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    if (!refused) console.log(wrong.reports(), (await logs(wrong.container)).slice(-3000));
    expect(refused).toBe(true);
    expect(wrong.reports().some((r) => r.vpn === "up")).toBe(false);
    await wrong.container.remove({ force: true });
    await responder.remove({ force: true });
  }, 150_000);

  test("a firewall that nft refuses stops the workspace before anything runs, and is reported", async () => {
    const token = `token-${crypto.randomUUID()}`;
    const broken = await runWorkspace(
      {
        vnc: { password: VNC_PASSWORD },
        profile: { kind: "openvpn", config: "client\n" },
        firewall: "table inet meetpoint_workspace { chain output { policy nonsense; } }\n",
        report: { url: `http://${gateway}:${reportPort}/report`, token },
      },
      `meetpoint-ws-test-${suffix}-broken`,
    );
    const fatal = () =>
      received.find((r) => r.authorization === `Bearer ${token}` && r.report.fatal)?.report;
    expect(await waitFor(() => fatal() !== undefined, { timeoutMs: 15_000, intervalMs: 100 })).toBe(
      true,
    );
    expect(fatal()).toMatchObject({ vpn: "down", lastError: expect.stringMatching(/^nft: /) });
    expect(
      await waitFor(async () => !(await broken.inspect()).State.Running, { timeoutMs: 10_000 }),
    ).toBe(true);
    expect((await broken.inspect()).State.ExitCode).toBe(3);
  }, 30_000);

  test("the allow-list is in force: the report port is reachable, another port is not", async () => {
    const connect = (port: number) =>
      exec(docker, workspace, "desk", [
        "timeout",
        "3",
        "bash",
        "-c",
        `exec 3<>/dev/tcp/${gateway}/${port}`,
      ]);
    expect((await connect(reportPort)).code).toBe(0);
    // The other listener answers the host itself, so only the workspace's firewall stops it.
    expect(await (await fetch(`http://${gateway}:${otherServer?.port}/`)).text()).toBe(
      "not allowed",
    );
    expect((await connect(otherServer?.port ?? 0)).code).not.toBe(0);
  }, 30_000);
});
