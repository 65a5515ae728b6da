// IPsec end to end with the jump workspace image: the customer's side — its network behind a NAT
// router (the test's Internet) and a strongSwan concentrator with a machine behind it — and
// workspaces that bring the tunnel up with a PSK or with certificates from the customer's CA,
// reach the listed port and nothing else, and report a wrong credential.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { WorkspaceSpec } from "@meetpoint/common";
import { IPSEC_FILES, waitFor } from "@meetpoint/common";
import Docker from "dockerode";
import { prerequisite } from "../../common/test/support/prerequisite.ts";
import { parseAllowList, renderEgressRuleset } from "../../platform/src/workspaces/egress.ts";
import {
  type IpsecSettings,
  ipsecEndpoints,
  parseIpsecProfile,
  renderSwanctlConf,
} from "../../platform/src/workspaces/ipsec-profile.ts";
import { strongswanConf } from "../src/vpn.ts";
import {
  containerIp,
  exec,
  logs,
  prerequisiteMissing,
  type WorkspaceScene,
  workspaceScene,
} from "./support.ts";

const docker = new Docker();
const MACHINE_IP = "10.77.0.1";
const VNC_PASSWORD = "Vnc-7x2q";

const missing = prerequisite("the workspace IPsec tests", await prerequisiteMissing(docker));

describe.skipIf(missing !== null)("jump workspace IPsec", () => {
  let scene: WorkspaceScene;
  // The customer's network: the /24 after the workspace network's.
  let customerSubnet = "";
  let routerIp = "";
  let routerCustomerIp = "";
  let responderIp = "";
  let customerNetwork: Docker.Network | undefined;
  let router: Docker.Container | undefined;

  beforeAll(async () => {
    scene = await workspaceScene(docker);
    const customer = `198.19.${scene.octet + 1}`;
    customerSubnet = `${customer}.0/24`;
    routerIp = `198.19.${scene.octet}.20`;
    routerCustomerIp = `${customer}.20`;
    responderIp = `${customer}.10`;
  }, 600_000);

  afterAll(async () => {
    await scene?.remove();
    await customerNetwork?.remove().catch(() => {});
  });

  // The router masquerades the workspace network towards the customer's, so a concentrator sees
  // the router as its IKE peer (as it would see the workspace host's public address) and the
  // workspace's own address only inside the tunnel.
  const hardened = {
    Tmpfs: { "/run": "rw,mode=0700" },
    CapDrop: ["ALL"],
    CapAdd: ["NET_ADMIN", "NET_BIND_SERVICE"],
  };
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

  /** The customer's network and the router into it, made by the first test that needs them. */
  async function customerRouter(): Promise<Docker.Container> {
    if (router) return router;
    customerNetwork = await docker.createNetwork({
      Name: `${scene.name}-customer`,
      Driver: "bridge",
      IPAM: { Config: [{ Subnet: customerSubnet, Gateway: `198.19.${scene.octet + 1}.1` }] },
    });
    const made = await docker.createContainer({
      name: `${scene.name}-router`,
      Image: scene.image,
      Entrypoint: ["sh", "-c"],
      Cmd: [
        `nft add table ip nat && nft 'add chain ip nat post { type nat hook postrouting priority 100; }' \\
          && nft add rule ip nat post ip saddr ${scene.subnet} ip daddr ${customerSubnet} masquerade \\
          && exec sleep infinity`,
      ],
      HostConfig: {
        ...hardened,
        NetworkMode: scene.network.id,
        Sysctls: { "net.ipv4.ip_forward": "1" },
      },
      NetworkingConfig: {
        EndpointsConfig: { [scene.name]: { IPAMConfig: { IPv4Address: routerIp } } },
      },
    });
    scene.containers.push(made);
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
      name: `${scene.name}-${name}`,
      Image: scene.image,
      Entrypoint: ["sh", "-ec"],
      Env: [
        `SS_CONF=${strongswanConf("libipsec")}`,
        `SWANCTL_CONF=${swanctl}`,
        `FILES=${JSON.stringify(files)}`,
      ],
      // In order: the machine's address exists before its servers bind it (a server that lost
      // that race once took the container down with it), the files before charon and swanctl.
      Cmd: [
        `ip addr add ${MACHINE_IP}/32 dev eth0
        printf '%s' "$SS_CONF" > /run/strongswan.conf
        printf '%s' "$SWANCTL_CONF" > /run/swanctl.conf
        bun -e 'const fs = require("node:fs"); for (const [p, c] of Object.entries(JSON.parse(process.env.FILES))) { fs.mkdirSync(require("node:path").dirname(p), { recursive: true }); fs.writeFileSync(p, c); }'
        export STRONGSWAN_CONF=/run/strongswan.conf
        /usr/lib/ipsec/charon &
        (until swanctl --load-all --noprompt --file /run/swanctl.conf; do sleep 0.2; done) &
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
        EndpointsConfig: { [`${scene.name}-customer`]: { IPAMConfig: { IPv4Address: ip } } },
      },
    });
    scene.containers.push(responder);
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
      relayAddresses: [scene.gateway],
      report: { address: scene.gateway, port: scene.reportPort },
    });
    const container = await scene.run(
      {
        vnc: { password: VNC_PASSWORD },
        profile,
        firewall,
        report: { url: `http://${scene.gateway}:${scene.reportPort}/report`, token },
      },
      name,
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
    return { container, reports: () => scene.reports(token) };
  }
  type IpsecWorkspace = Awaited<ReturnType<typeof ipsecWorkspace>>;

  /** Waits for `ws` to report up; on a timeout prints the logs of both sides and the router. */
  async function expectUp(ws: IpsecWorkspace, responder: Docker.Container): Promise<void> {
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

  /** Waits for `ws` to report down with a lastError matching `error`, never up; removes it. */
  async function expectRefused(ws: IpsecWorkspace, error: RegExp): Promise<void> {
    const refused = await waitFor(
      () => ws.reports().some((r) => r.vpn === "down" && error.test(r.lastError ?? "")),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    if (!refused) console.log(ws.reports(), (await logs(ws.container)).slice(-3000));
    expect(refused).toBe(true);
    expect(ws.reports().some((r) => r.vpn === "up")).toBe(false);
    await ws.container.remove({ force: true });
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
      remote_ts = ${scene.subnet} } }
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
    await expectRefused(
      await start("ipsec-wrong-psk", `${psk}-wrong`),
      /^ipsec: authentication failed$/,
    );
    await responder.remove({ force: true });
  }, 150_000);

  test("IPsec with certificates: EC P-256 certificates from the customer's CA bring the tunnel up, the files stay root's; a remote CA that did not issue the concentrator's certificate is reported", async () => {
    const workspaceId = "workspace@vendor.example";
    const concentratorId = "concentrator.customer.example";
    const ip = `198.19.${scene.octet + 1}.11`;
    // The customer's CA, another CA, and the two end-entity certificates (EC P-256, the IKE
    // identities as subjectAltName), made with openssl in the router (the image has it).
    const made = await exec(docker, await customerRouter(), "root", [
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
    expect(made.code).toBe(0);
    const pem: Record<string, string> = {};
    for (const part of made.output.split(/^== /m).slice(1)) {
      const [name = "", ...rest] = part.split("\n");
      pem[name] = rest.join("\n").trim();
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
      remote_ts = ${scene.subnet} } }
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
    await expectRefused(
      await start("ipsec-cert-wrong-ca", pem["other.pem"] ?? ""),
      /^ipsec: authentication failed: no trusted certificate for 'concentrator/,
    );
    await responder.remove({ force: true });
  }, 150_000);
});
