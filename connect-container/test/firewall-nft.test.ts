// The gateway ruleset in the kernel: a tunnel namespace reaches an enabled service of a machine
// through its proxy address; other ports, WAN → LAN and the gateway itself are refused.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run, waitFor } from "@meetpoint/common";
import { labSkipReason, link, Netns } from "@meetpoint/lab";
import { KernelFirewall } from "../src/firewall/kernel.ts";
import { renderGatewayRuleset } from "../src/firewall/ruleset.ts";

const skip = labSkipReason(["nft", "conntrack"]);

describe.skipIf(skip !== null)("gateway ruleset with real nftables", () => {
  let tunnel: Netns;
  let gateway: Netns;
  let machine: Netns;
  let wan: Netns;
  let dir: string;
  let links: { tun: string; lan: string; wan: string };

  const fetchFrom = (ns: Netns, url: string) =>
    ns.exec(
      "bun",
      "-e",
      `try { const r = await fetch("${url}", { signal: AbortSignal.timeout(1500) }); console.log(await r.text()); } catch { console.log("unreachable"); }`,
    );

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "meetpoint-gwfw-"));
    tunnel = Netns.create("gw-tun");
    gateway = Netns.create("gw-gw");
    machine = Netns.create("gw-lan");
    wan = Netns.create("gw-wan");
    // A veth stands in for the OpenVPN tun device: the ruleset only cares about interface names.
    const t = link(tunnel, "100.127.0.3/20", gateway, "100.127.0.2/20");
    const l = link(gateway, "192.168.0.1/24", machine, "192.168.0.10/24");
    const w = link(gateway, "198.18.220.2/24", wan, "198.18.220.1/24");
    links = { tun: t.bName, lan: l.aName, wan: w.aName };
    tunnel.exec("ip", "route", "add", "100.64.0.0/24", "via", "100.127.0.2");
    wan.exec("ip", "route", "add", "192.168.0.0/24", "via", "198.18.220.2");
    machine.exec("ip", "route", "add", "default", "via", "192.168.0.1");
    gateway.exec("sysctl", "-qw", "net.ipv4.ip_forward=1");
    for (const port of [443, 22]) {
      machine.spawn([
        "bun",
        "-e",
        `Bun.serve({ hostname: "192.168.0.10", port: ${port}, fetch: () => new Response("machine ${port}") })`,
      ]);
    }
    gateway.spawn([
      "bun",
      "-e",
      `Bun.serve({ hostname: "0.0.0.0", port: 8080, fetch: () => new Response("gateway ui") })`,
    ]);
    const ruleset = renderGatewayRuleset({
      lanInterface: links.lan,
      tunnelInterface: links.tun,
      services: [
        { proxyAddress: "100.64.0.1", lanAddress: "192.168.0.10", protocol: "tcp", port: 443 },
      ],
    });
    writeFileSync(join(dir, "gateway.nft"), ruleset);
    gateway.exec("nft", "-f", join(dir, "gateway.nft"));
  });

  afterAll(() => {
    for (const ns of [tunnel, gateway, machine, wan]) ns?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the enabled service answers at its proxy address; nothing else does", async () => {
    // The servers started in beforeAll answer once they listen.
    await waitFor(
      () =>
        fetchFrom(machine, "http://192.168.0.10:443/").includes("machine 443") &&
        fetchFrom(machine, "http://192.168.0.10:22/").includes("machine 22") &&
        fetchFrom(gateway, "http://127.0.0.1:8080/").includes("gateway ui"),
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(fetchFrom(tunnel, "http://100.64.0.1:443/")).toContain("machine 443");
    expect(fetchFrom(tunnel, "http://100.64.0.1:22/")).toContain("unreachable");
    expect(fetchFrom(tunnel, "http://192.168.0.10:443/")).toContain("unreachable");
    expect(fetchFrom(tunnel, "http://100.127.0.2:8080/")).toContain("unreachable");
    expect(fetchFrom(wan, "http://192.168.0.10:443/")).toContain("unreachable");
    // The operator UI listens on all addresses, yet the WAN side cannot open it; the LAN can.
    expect(fetchFrom(wan, "http://198.18.220.2:8080/")).toContain("unreachable");
    expect(fetchFrom(machine, "http://192.168.0.1:8080/")).toContain("gateway ui");
  }, 30_000);

  test("a WAN interface under a new name stays WAN side (Docker renames re-attached networks)", () => {
    gateway.exec("ip", "link", "set", links.wan, "down");
    gateway.exec("ip", "link", "set", links.wan, "name", "wan-renamed");
    gateway.exec("ip", "link", "set", "wan-renamed", "up");
    try {
      expect(fetchFrom(wan, "http://198.18.220.2:8080/")).toContain("unreachable");
      expect(fetchFrom(wan, "http://192.168.0.10:443/")).toContain("unreachable");
      expect(fetchFrom(machine, "http://192.168.0.1:8080/")).toContain("gateway ui");
    } finally {
      gateway.exec("ip", "link", "set", "wan-renamed", "down");
      gateway.exec("ip", "link", "set", "wan-renamed", "name", links.wan);
      gateway.exec("ip", "link", "set", links.wan, "up");
    }
  }, 30_000);

  test("regression: closing a service forgets its established flows at the gateway (conntrack)", async () => {
    // A keep-alive connection through the proxy address, held open by a client in the tunnel.
    const client = tunnel.spawn([
      "bun",
      "-e",
      `const s = await Bun.connect({ hostname: "100.64.0.1", port: 443, socket: { data() {} } });
       setInterval(() => s.write("GET / HTTP/1.1\\r\\nHost: m\\r\\n\\r\\n"), 200);`,
    ]);
    const tracked = () => gateway.exec("conntrack", "-L", "-d", "100.64.0.1");
    try {
      expect(await waitFor(() => tracked().includes("ESTABLISHED"), { timeoutMs: 10_000 })).toBe(
        true,
      );
      const firewall = new KernelFirewall((args, options) =>
        run(args, { ...options, netns: gateway.name }),
      );
      const service = {
        proxyAddress: "100.64.0.1",
        lanAddress: "192.168.0.10",
        protocol: "tcp" as const,
        port: 443,
      };
      await firewall.apply({ lanInterface: links.lan, tunnelInterface: links.tun, services: [] });
      await firewall.forgetFlows([service]);
      expect(tracked()).not.toContain("ESTABLISHED");
      // Forgetting again finds nothing, and that is fine.
      await firewall.forgetFlows([service]);
    } finally {
      client.kill();
    }
  }, 30_000);

  test("disconnected: the same service is unreachable", () => {
    writeFileSync(
      join(dir, "off.nft"),
      renderGatewayRuleset({
        lanInterface: links.lan,
        tunnelInterface: null,
        services: [],
      }),
    );
    gateway.exec("nft", "-f", join(dir, "off.nft"));
    expect(fetchFrom(tunnel, "http://100.64.0.1:443/")).toContain("unreachable");
  }, 30_000);
});
