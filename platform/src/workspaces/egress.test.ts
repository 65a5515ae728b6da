import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { prerequisite } from "../../../common/test/support/prerequisite.ts";
import { ValidationError } from "../shared/index.ts";
import { parseNetwork } from "./addresses.ts";
import {
  allowListText,
  dnsServers,
  parseAllowList,
  renderEgressRuleset,
  resolveEndpoints,
} from "./egress.ts";

function problem(text: string): string {
  try {
    parseAllowList(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe("allowList");
    return (error as ValidationError).reason;
  }
  throw new Error("accepted");
}

test("networks: IPv4, IPv6, prefixes and host bits", () => {
  expect(parseNetwork("10.0.0.0/8")).toEqual({ family: 4, address: "10.0.0.0", prefix: 8 });
  expect(parseNetwork("0.0.0.0/0")?.prefix).toBe(0);
  expect(parseNetwork("192.0.2.1")?.prefix).toBe(32);
  expect(parseNetwork("2001:DB8::/32")).toEqual({ family: 6, address: "2001:db8::", prefix: 32 });
  expect(parseNetwork("::/0")?.prefix).toBe(0);
  expect(parseNetwork("::ffff:192.0.2.0/120")?.family).toBe(6);
  for (const bad of [
    "10.0.0.1/8",
    "10.0.0.0/33",
    "10.0.0.0/08",
    "010.0.0.0/8",
    "10.0.0",
    "2001:db8::1/32",
    "2001:db8::/129",
    "fe80::1%eth0",
    "10.0.0.0/8/8",
    "10.0.0.0/",
    "10.0.0.0/8\naccept",
    "",
  ])
    expect(parseNetwork(bad)).toBeNull();
});

test("allow-list lines parse and print back", () => {
  const entries = parseAllowList(
    "# DNS of the customer\n10.1.2.3 udp 53\r\n10.1.2.3 tcp 53 direct\n10.20.0.0/16 tcp direct\n2001:db8::/48 icmp\n",
  );
  expect(entries).toEqual([
    { destination: "10.1.2.3", protocol: "udp", port: 53 },
    { destination: "10.1.2.3", protocol: "tcp", port: 53, direct: true },
    { destination: "10.20.0.0/16", protocol: "tcp", port: null, direct: true },
    { destination: "2001:db8::/48", protocol: "icmp", port: null },
  ]);
  expect(allowListText(entries)).toContain("10.20.0.0/16 tcp direct\n");
  expect(parseAllowList(allowListText(entries))).toEqual(entries);
  expect(parseAllowList("")).toEqual([]);
});

test("bad allow-list lines are 400 naming the line", () => {
  expect(problem("10.0.0.1/8 tcp 22")).toBe(
    'line 1: "10.0.0.1/8" is not an IP address or CIDR (host bits zero)',
  );
  expect(problem("\n10.0.0.0/8 sctp 22")).toBe("line 2: the protocol must be tcp, udp or icmp");
  expect(problem("10.0.0.0/8 icmp 8")).toBe("line 1: icmp has no port");
  expect(problem("10.0.0.0/8 tcp 0")).toContain("1–65535");
  expect(problem("10.0.0.0/8 tcp 65536")).toContain("1–65535");
  expect(problem("10.0.0.0/8 tcp 22 accept")).toContain("line 1");
  expect(problem("10.0.0.0/8 tcp 22 accept direct")).toContain("[direct]");
  expect(problem("10.0.0.0/8 direct")).toBe("line 1: the protocol must be tcp, udp or icmp");
  expect(problem("10.0.0.0/8 tcp 22;\n} table ip x {")).toContain("line 1");
  expect(problem("host.example tcp 22")).toContain("not an IP address");
});

test('"direct" entries together open at most a /8 of IPv4 and a /32 of IPv6; tunnel-only ones are not counted', () => {
  const eights = (n: number, suffix: string) =>
    Array.from({ length: n }, (_, i) => `${11 + i}.0.0.0/8 tcp 443${suffix}`).join("\n");
  expect(parseAllowList(eights(1, " direct"))).toHaveLength(1);
  expect(parseAllowList(eights(30, ""))).toHaveLength(30);
  expect(problem(eights(2, " direct"))).toContain(
    "33554432 IPv4 addresses outside the customer's VPN, more than a /8",
  );
  expect(
    problem("11.0.0.0/9 tcp 443 direct\n11.0.0.0/9 udp 53 direct\n12.0.0.1 tcp 80 direct"),
  ).toContain("more than a /8");
  // IPv4-mapped entries count as the IPv4 they stand for.
  expect(problem("11.0.0.0/8 tcp 443 direct\n::ffff:c00:0/104 tcp 443 direct")).toContain(
    "more than a /8",
  );
  expect(parseAllowList("2001:db8::/32 tcp 443 direct")).toHaveLength(1);
  expect(problem("2001:db8::/32 tcp 443 direct\n2001:db9::/48 tcp 443 direct")).toContain(
    "IPv6 addresses outside the customer's VPN, more than a /32",
  );
});

const MODEL = {
  uplink: "eth0",
  tunnel: "openvpn" as const,
  vpnEndpoints: [{ address: "192.0.2.7", protocol: "udp" as const, port: 1194 }],
  allowList: parseAllowList("10.1.2.3 udp 53 direct\n2001:db8::/48 tcp 443\n198.51.100.0/24 icmp"),
  relayAddresses: ["198.18.0.2"],
};

test("the ruleset: drop policies, endpoints on the uplink, the allow-list in the tunnel (direct entries on the uplink too), relay to VNC", () => {
  const script = renderEgressRuleset(MODEL);
  expect(script).toContain("delete table inet meetpoint_workspace");
  expect(script).toContain("type filter hook output priority filter; policy drop;");
  expect(script).toContain("type filter hook input priority filter; policy drop;");
  expect(script).toContain('oifname "eth0" ip daddr 192.0.2.7 udp dport 1194 meta skuid 0 accept');
  expect(script).toContain('oifname "eth0" ip daddr 10.1.2.3 udp dport 53 accept');
  // Not "direct": only through the tunnel — with it down, nothing is sought in the clear.
  expect(script).not.toContain('oifname "eth0" ip6 daddr 2001:db8::/48');
  expect(script).not.toContain('oifname "eth0" ip daddr 198.51.100.0/24');
  expect(script).toContain('oifname "tun*" ip daddr 198.51.100.0/24 meta l4proto icmp accept');
  // The allow-list inside the tunnel too; nothing else goes into it.
  expect(script).toContain('oifname "tun*" ip daddr 10.1.2.3 udp dport 53 accept');
  expect(script).toContain('oifname "tun*" ip6 daddr 2001:db8::/48 tcp dport 443 accept');
  expect(script).not.toMatch(/oifname "tun\*" accept/);
  expect(renderEgressRuleset({ ...MODEL, allowList: [] })).not.toContain("tun*");
  expect(script).toContain('iifname "eth0" ip saddr 198.18.0.2 tcp dport 5900 accept');
  // No DNS unless named: without the entry there is no port 53 at all.
  expect(renderEgressRuleset({ ...MODEL, allowList: [] })).not.toContain("dport 53");
  const ipsec = renderEgressRuleset({
    ...MODEL,
    tunnel: "ipsec",
    vpnEndpoints: [
      { address: "203.0.113.9", protocol: "udp", port: 500 },
      { address: "203.0.113.9", protocol: "udp", port: 4500 },
      { address: "203.0.113.9", protocol: "esp", port: null },
    ],
  });
  expect(ipsec).toContain("rt ipsec exists ip daddr 10.1.2.3 udp dport 53 accept");
  expect(ipsec).not.toMatch(/rt ipsec exists accept/);
  // strongSwan's userspace IPsec (no kernel ESP): the same list into its TUN device, nothing more.
  expect(ipsec).toContain('oifname "ipsec0" ip daddr 10.1.2.3 udp dport 53 accept');
  expect(ipsec).toContain('oifname "ipsec0" ip6 daddr 2001:db8::/48 tcp dport 443 accept');
  expect(ipsec).not.toMatch(/oifname "ipsec0" accept/);
  expect(ipsec.match(/oifname "ipsec0"/g)).toHaveLength(MODEL.allowList.length);
  expect(renderEgressRuleset(MODEL)).not.toContain("ipsec0");
  expect(ipsec).toContain("ip daddr 203.0.113.9 meta l4proto esp accept");
  expect(ipsec).not.toContain("tun*");
});

test("Docker's DNS: the desktop user asks it only when the allow-list names a DNS server", () => {
  expect(dnsServers(MODEL.allowList)).toEqual(["10.1.2.3"]);
  expect(
    dnsServers(
      parseAllowList(
        "10.1.2.0/24 udp 53\n10.9.9.9 tcp 53\n10.9.9.9 udp 53\n2001:db8::53 udp 53\n10.1.1.1 tcp 80",
      ),
    ),
  ).toEqual(["10.9.9.9", "2001:db8::53"]);
  const drop = /oifname "lo" ip daddr 127\.0\.0\.11 meta skuid != 0 drop/;
  expect(renderEgressRuleset(MODEL)).not.toMatch(drop);
  const closed = renderEgressRuleset({ ...MODEL, allowList: parseAllowList("10.1.2.0/24 udp 53") });
  expect(closed).toMatch(drop);
  // Before the loopback accept, or it would never match.
  expect(closed.indexOf("127.0.0.11")).toBeLessThan(closed.indexOf('oifname "lo" accept'));
});

test("the renderer refuses hostile values that bypassed the form", () => {
  expect(() => renderEgressRuleset({ ...MODEL, uplink: 'eth0" accept\n' })).toThrow(/uplink/);
  expect(() =>
    renderEgressRuleset({
      ...MODEL,
      allowList: [{ destination: "0.0.0.0/0 accept\n", protocol: "tcp", port: null }],
    }),
  ).toThrow(ValidationError);
  expect(() =>
    renderEgressRuleset({
      ...MODEL,
      vpnEndpoints: [{ address: "10.0.0.0/8", protocol: "udp", port: 1194 }],
    }),
  ).toThrow(/single address/);
  expect(() => renderEgressRuleset({ ...MODEL, relayAddresses: ["any"] })).toThrow(/relay/);
  // A list stored before the "direct" limit existed is held to it at the start.
  const wide = ["11.0.0.0/8", "12.0.0.0/8"].map((destination) => ({
    destination,
    protocol: "tcp" as const,
    port: 443,
    direct: true,
  }));
  expect(() => renderEgressRuleset({ ...MODEL, allowList: wide })).toThrow(/more than a \/8/);
});

// nft checks the script's syntax (-c: nothing is loaded) in a network namespace of its own.
const nftMissing = prerequisite(
  "nft's check of the rendered scripts",
  process.getuid?.() !== 0
    ? "needs root for nft -c"
    : spawnSync("nft", ["--version"]).status !== 0
      ? "nft is not installed"
      : spawnSync("unshare", ["--net", "true"]).status !== 0
        ? "unshare --net does not work here"
        : null,
);
test.skipIf(nftMissing !== null)("nft accepts the rendered scripts", () => {
  for (const tunnel of ["openvpn", "ipsec"] as const) {
    const result = spawnSync("unshare", ["--net", "nft", "-c", "-f", "-"], {
      input: renderEgressRuleset({ ...MODEL, tunnel }),
      encoding: "utf8",
      timeout: 10_000,
    });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  }
});

test.skipIf(nftMissing !== null)(
  `loaded, the ruleset keeps the desktop user from Docker's DNS and the VNC server from the allow-list ${nftMissing ?? ""}`,
  () => {
    // UDP sends in a namespace of its own, eth0 a veth: a drop in output fails the send (EPERM).
    const script = `ip link set lo up && ip link add eth0 type veth peer name peer0 && ip link set peer0 up
ip addr add 10.1.2.2/24 dev eth0 && ip link set eth0 up && nft -f - || exit 1
send() { setpriv --reuid=$1 --regid=$1 --clear-groups bash -c "echo x > /dev/udp/$2" 2>/dev/null && echo "$1 $2 sent" || echo "$1 $2 refused"; }
send 0 127.0.0.11/53; send 1000 127.0.0.11/53; send 1000 10.1.2.3/53; send 1001 10.1.2.3/53
send 1000 10.1.2.4/5353
ip route add 198.18.7.0/24 dev eth0 && send 0 198.18.7.7/1194 && send 1000 198.18.7.7/1194`;
    const run = (allowList: string) =>
      spawnSync("unshare", ["--net", "sh", "-c", script], {
        input: renderEgressRuleset({
          ...MODEL,
          vpnEndpoints: [{ address: "198.18.7.7", protocol: "udp", port: 1194 }],
          allowList: parseAllowList(allowList),
        }),
        encoding: "utf8",
        timeout: 10_000,
      });
    // 10.1.2.4 is listed but not "direct": behind the customer's VPN only, and there is no tunnel.
    const named = run("10.1.2.3 tcp 80\n10.1.2.3 udp 53 direct\n10.1.2.4 udp 5353");
    expect(named.stderr).toBe("");
    // A DNS server listed: Docker's DNS open to the desktop user; the VNC server sends nowhere.
    expect(named.stdout.trim().split("\n")).toEqual([
      "0 127.0.0.11/53 sent",
      "1000 127.0.0.11/53 sent",
      "1000 10.1.2.3/53 sent",
      "1001 10.1.2.3/53 refused",
      "1000 10.1.2.4/5353 refused",
      // The VPN endpoint: OpenVPN's (root's) packets pass, the desktop user's do not.
      "0 198.18.7.7/1194 sent",
      "1000 198.18.7.7/1194 refused",
    ]);
    const noDns = run("10.1.2.0/24 udp 53 direct");
    expect(noDns.stdout.trim().split("\n")).toEqual([
      "0 127.0.0.11/53 sent",
      "1000 127.0.0.11/53 refused",
      "1000 10.1.2.3/53 sent",
      "1001 10.1.2.3/53 refused",
      "1000 10.1.2.4/5353 refused",
      // The VPN endpoint: OpenVPN's (root's) packets pass, the desktop user's do not.
      "0 198.18.7.7/1194 sent",
      "1000 198.18.7.7/1194 refused",
    ]);
  },
);

test.skipIf(nftMissing !== null)(
  `loaded, the IPsec ruleset lets the desktop user into strongSwan's TUN device only to the allow-list ${nftMissing ?? ""}`,
  () => {
    // A namespace of its own with a TUN device named as kernel-libipsec names it, routing the
    // customer's subnet; UDP from uid 1000: a drop in output fails the send (EPERM).
    const send = (to: string) =>
      `setpriv --reuid=1000 --regid=1000 --clear-groups bash -c 'echo x > /dev/udp/${to}' 2>/dev/null && echo sent ${to} || echo refused ${to}`;
    const run = (tunnel: "openvpn" | "ipsec") =>
      spawnSync(
        "unshare",
        [
          "--net",
          "sh",
          "-c",
          [
            "ip link set lo up",
            "ip tuntap add dev ipsec0 mode tun",
            "ip link set ipsec0 up",
            "ip addr add 10.200.0.1/24 dev ipsec0",
            "ip route add 10.1.2.0/24 dev ipsec0",
            "nft -f -",
            send("10.1.2.3/53"),
            send("10.1.2.3/54"),
            send("10.1.2.4/53"),
          ].join(" && "),
        ],
        { input: renderEgressRuleset({ ...MODEL, tunnel }), encoding: "utf8", timeout: 10_000 },
      );
    const ipsec = run("ipsec");
    expect(ipsec.stderr).toBe("");
    expect(ipsec.stdout.split("\n").filter(Boolean)).toEqual([
      "sent 10.1.2.3/53",
      "refused 10.1.2.3/54",
      "refused 10.1.2.4/53",
    ]);
    // The control: OpenVPN's ruleset does not know the device, so the listed port is refused too.
    expect(run("openvpn").stdout.split("\n").filter(Boolean)).toEqual([
      "refused 10.1.2.3/53",
      "refused 10.1.2.3/54",
      "refused 10.1.2.4/53",
    ]);
  },
);

test("endpoints: names resolved through the lookup, addresses kept, nothing found is an error", async () => {
  const lookups: string[] = [];
  const lookup = async (host: string) => {
    lookups.push(host);
    return host === "vpn.customer.example" ? ["192.0.2.7", "2001:DB8::7", "not an address"] : [];
  };
  const resolved = await resolveEndpoints(
    [
      { host: "vpn.customer.example", protocol: "udp", port: 1194 },
      { host: "192.0.2.7", protocol: "udp", port: 1194 },
      { host: "203.0.113.9", protocol: "esp", port: null },
    ],
    lookup,
  );
  expect(resolved).toEqual([
    { address: "192.0.2.7", protocol: "udp", port: 1194 },
    { address: "2001:db8::7", protocol: "udp", port: 1194 },
    { address: "203.0.113.9", protocol: "esp", port: null },
  ]);
  expect(lookups).toEqual(["vpn.customer.example"]);
  expect(renderEgressRuleset({ ...MODEL, vpnEndpoints: resolved })).toContain(
    'oifname "eth0" ip6 daddr 2001:db8::7 udp dport 1194 meta skuid 0 accept',
  );
  await expect(
    resolveEndpoints([{ host: "gone.example", protocol: "udp", port: 1194 }], lookup),
  ).rejects.toThrow(/gone.example: no address found/);
});

test("the allow-list refuses catch-alls, loopback, link-local, multicast and the platform's networks", () => {
  const cases: [string, RegExp][] = [
    ["0.0.0.0/0 tcp", /catch-all/],
    ["::/0 tcp", /catch-all/],
    ["10.0.0.0/7 tcp", /catch-all/],
    ["169.254.169.254 tcp 80", /link-local/],
    ["fe80::/64 udp", /link-local/],
    ["127.0.0.1 tcp 5432", /loopback/],
    ["::1 tcp 5432", /loopback/],
    ["::ffff:127.0.0.1 tcp 5432", /loopback/],
    ["0.0.0.0 tcp", /unspecified/],
    ["224.0.0.1 udp", /multicast/],
    ["255.255.255.255 udp", /broadcast/],
    ["172.18.0.5 tcp 5432", /172\.16\.0\.0\/12/],
    ["198.19.0.0/24 tcp", /198\.19\.0\.0\/16/],
    // IPv4-mapped IPv6 in any spelling is judged by its bits, as the IPv4 address it maps to.
    ["0:0:0:0:0:ffff:a9fe:a9fe tcp 80", /link-local/],
    ["::ffff:a9fe:a9fe tcp 80", /link-local/],
    ["0::FFFF:169.254.169.254 tcp 80", /link-local/],
    ["0:0:0:0:0:ffff:ac11:1 tcp 2375", /172\.16\.0\.0\/12/],
    ["::fffe:0:0/95 tcp", /IPv4-mapped/],
    // IPv6 forms that embed an IPv4 address are refused outright.
    ["64:ff9b::a9fe:a9fe tcp 80", /NAT64/],
    ["64:ff9b::/96 tcp", /NAT64/],
    ["64:ff9b:1::/64 tcp", /NAT64/],
    ["2002:7f00:1::/48 tcp", /6to4/],
    ["2002::/16 tcp", /6to4/],
    ["2001:0:4136:e378::/64 tcp", /Teredo/],
    ["::a9fe:a9fe tcp", /IPv4-compatible/],
    // The platform's own tunnel pool and proxy pool (defaults).
    ["100.127.0.1 tcp 22", /100\.127\.0\.0\/16/],
    ["100.64.0.0/10 tcp", /100\.64\.0\.0\/10/],
    ["100.126.0.0/16 tcp 22", /100\.64\.0\.0\/10/],
  ];
  for (const [line, reason] of cases) {
    const message = problem(`10.1.0.0/16 tcp\n${line}`);
    expect(message).toContain("line 2");
    expect(message).toMatch(reason);
  }
  const saved = process.env.MEETPOINT_WORKSPACE_FORBIDDEN_NETWORKS;
  process.env.MEETPOINT_WORKSPACE_FORBIDDEN_NETWORKS = "10.9.0.0/16";
  try {
    expect(problem("10.9.4.0/24 tcp")).toMatch(/10\.9\.0\.0\/16/);
    expect(parseAllowList("172.18.0.5 tcp").length).toBe(1);
    // The pools stay forbidden whatever the operator lists: the workspace networks' too (their
    // gateway is the workspace host, the platform's HTTPS).
    expect(problem("100.127.0.0/24 tcp")).toMatch(/100\.127\.0\.0\/16/);
    expect(problem("198.19.232.1 tcp 443")).toMatch(/198\.19\.232\.0\/21/);
  } finally {
    if (saved === undefined) delete process.env.MEETPOINT_WORKSPACE_FORBIDDEN_NETWORKS;
    else process.env.MEETPOINT_WORKSPACE_FORBIDDEN_NETWORKS = saved;
  }
});

test("the configured tunnel and proxy pools are forbidden, read at call time", () => {
  const saved = [process.env.MEETPOINT_TUNNEL_POOL, process.env.MEETPOINT_PROXY_POOL];
  process.env.MEETPOINT_TUNNEL_POOL = "10.250.0.0/16";
  process.env.MEETPOINT_PROXY_POOL = "10.96.0.0/12";
  try {
    expect(problem("10.250.3.0/24 tcp")).toMatch(/10\.250\.0\.0\/16/);
    expect(problem("10.100.0.1 tcp 22")).toMatch(/10\.96\.0\.0\/12/);
    expect(parseAllowList("100.127.0.1 tcp 22").length).toBe(1);
  } finally {
    const [tunnel, proxy] = saved;
    if (tunnel === undefined) delete process.env.MEETPOINT_TUNNEL_POOL;
    else process.env.MEETPOINT_TUNNEL_POOL = tunnel;
    if (proxy === undefined) delete process.env.MEETPOINT_PROXY_POOL;
    else process.env.MEETPOINT_PROXY_POOL = proxy;
  }
});

test("a VPN endpoint name resolving to a mapped or NAT64 form of a refused address refuses the start", async () => {
  const lookup = async (host: string) =>
    host === "mapped.example" ? ["0:0:0:0:0:ffff:7f00:1"] : ["64:ff9b::a9fe:a9fe"];
  await expect(
    resolveEndpoints([{ host: "mapped.example", protocol: "udp", port: 1194 }], lookup),
  ).rejects.toThrow(/loopback/);
  await expect(
    resolveEndpoints([{ host: "nat64.example", protocol: "udp", port: 1194 }], lookup),
  ).rejects.toThrow(/NAT64/);
});

test("a VPN endpoint name resolving to loopback or a platform network refuses the start", async () => {
  const lookup = async (host: string) =>
    host === "evil.example" ? ["192.0.2.7", "127.0.0.1"] : ["172.17.0.2"];
  await expect(
    resolveEndpoints([{ host: "evil.example", protocol: "udp", port: 1194 }], lookup),
  ).rejects.toThrow(/evil.example: resolves to 127.0.0.1, which is loopback/);
  await expect(
    resolveEndpoints([{ host: "db.example", protocol: "udp", port: 1194 }], lookup),
  ).rejects.toThrow(/172\.16\.0\.0\/12/);
  await expect(
    resolveEndpoints([{ host: "169.254.169.254", protocol: "esp", port: null }], lookup),
  ).rejects.toThrow(/link-local/);
});

test("the supervisor's report endpoint: TCP to that address and port on the uplink only", () => {
  const text = renderEgressRuleset({ ...MODEL, report: { address: "198.19.232.1", port: 8443 } });
  expect(text).toContain(
    'oifname "eth0" ip daddr 198.19.232.1 tcp dport 8443 meta skuid 0 accept comment "platform report (supervisor only)"',
  );
  expect(() =>
    renderEgressRuleset({ ...MODEL, report: { address: "198.19.232.1", port: 0 } }),
  ).toThrow(/port/);
});

test.skipIf(nftMissing !== null)(
  `loaded, the ruleset forwards nothing from the customer's tunnel to the host's networks ${nftMissing ?? ""}`,
  () => {
    // Three namespaces: the workspace between the host's LAN (eth0) and the customer (tun0, here a
    // veth), forwarding on as a Docker host has it; a datagram from the customer to the LAN.
    const tag = Math.random().toString(36).slice(2, 8);
    const [ws, lan, cust] = ["ws", "lan", "cust"].map((n) => `mp-fwd-${n}-${tag}`);
    const receive = `ip netns exec ${lan} bun -e "Bun.udpSocket({ hostname: '198.18.250.1', port: 9999, socket: { data() { console.log('received'); process.exit(0); } } }); setTimeout(() => { console.log('nothing'); process.exit(0); }, 1500);"`;
    const send = `sleep 0.3; ip netns exec ${cust} bash -c 'echo x > /dev/udp/198.18.250.1/9999'`;
    const script = `set -e
ip netns add ${ws}; ip netns add ${lan}; ip netns add ${cust}
ip link add eth0 netns ${ws} type veth peer name lan0 netns ${lan}
ip link add tun0 netns ${ws} type veth peer name cust0 netns ${cust}
ip -n ${ws} addr add 198.18.250.2/24 dev eth0; ip -n ${ws} addr add 198.18.251.2/24 dev tun0
ip -n ${lan} addr add 198.18.250.1/24 dev lan0; ip -n ${cust} addr add 198.18.251.1/24 dev cust0
for n in ${ws} ${lan} ${cust}; do ip -n $n link set lo up; done
ip -n ${ws} link set eth0 up; ip -n ${ws} link set tun0 up
ip -n ${lan} link set lan0 up; ip -n ${cust} link set cust0 up
ip -n ${cust} route add default via 198.18.251.2
ip netns exec ${ws} sysctl -qw net.ipv4.ip_forward=1
echo "without: $( (${send}) & ${receive})"
ip netns exec ${ws} nft -f -
echo "with: $( (${send}) & ${receive})"`;
    try {
      const result = spawnSync("bash", ["-c", script], {
        input: renderEgressRuleset(MODEL),
        encoding: "utf8",
        timeout: 20_000,
      });
      expect(result.stderr).toBe("");
      // The control: without the ruleset the workspace routes it; with it, nothing passes.
      expect(result.stdout.trim().split("\n")).toEqual(["without: received", "with: nothing"]);
    } finally {
      for (const n of [ws, lan, cust]) spawnSync("ip", ["netns", "del", n ?? ""]);
    }
  },
);
