import { describe, expect, test } from "bun:test";
import { contains, formatIpv4, parseCidr, parseIpv4 } from "@meetpoint/common";
import fc from "fast-check";
import { type FirewallModel, type Grant, renderGrantChange, renderRuleset } from "./ruleset.ts";

const technicianPool = parseCidr("100.127.0.0/16") ?? { base: 0, prefix: 0 };
const proxyPool = parseCidr("100.64.0.0/12") ?? { base: 0, prefix: 0 };

interface Packet {
  iif: string;
  saddr: string;
  daddr: string;
  protocol: "tcp" | "udp" | "icmp";
  sport: number;
  dport: number;
  state: "new" | "established";
}

/**
 * Evaluates a packet against the rendered text the way the ruleset's rules read: it takes the set
 * elements from the text itself, so a rendering mistake shows up as a difference from the model.
 */
function rendererVerdict(text: string, packet: Packet): boolean {
  const elements = new Set(
    (text.match(/elements = \{([^}]*)\}/)?.[1] ?? "")
      .split(",")
      .map((e) => e.trim())
      .filter(Boolean),
  );
  const fromTunnel = /^meetpoint-vpn/.test(packet.iif);
  if (!fromTunnel) return false;
  const inPool = (pool: typeof technicianPool, a: string) => contains(pool, parseIpv4(a) ?? -1);
  if (!inPool(technicianPool, packet.saddr) && !inPool(proxyPool, packet.saddr)) return false;
  if (packet.protocol === "icmp") return false;
  if (inPool(technicianPool, packet.saddr) && inPool(proxyPool, packet.daddr)) {
    return elements.has(`${packet.saddr} . ${packet.daddr} . ${packet.protocol} . ${packet.dport}`);
  }
  if (
    inPool(proxyPool, packet.saddr) &&
    inPool(technicianPool, packet.daddr) &&
    packet.state === "established"
  ) {
    return elements.has(`${packet.daddr} . ${packet.saddr} . ${packet.protocol} . ${packet.sport}`);
  }
  return false;
}

/** What the database model allows. */
function modelVerdict(grants: Grant[], packet: Packet): boolean {
  if (!packet.iif.startsWith("meetpoint-vpn") || packet.protocol === "icmp") return false;
  return grants.some(
    (g) =>
      (g.technicianAddress === packet.saddr &&
        g.proxyAddress === packet.daddr &&
        g.protocol === packet.protocol &&
        g.port === packet.dport) ||
      (packet.state === "established" &&
        g.technicianAddress === packet.daddr &&
        g.proxyAddress === packet.saddr &&
        g.protocol === packet.protocol &&
        g.port === packet.sport),
  );
}

const technician = fc
  .integer({ min: 1, max: 6 })
  .map((n) => formatIpv4(technicianPool.base + 10 + n));
const proxy = fc.integer({ min: 1, max: 6 }).map((n) => formatIpv4(proxyPool.base + n));
const port = fc.constantFrom(22, 80, 443, 502, 4840);
const grant: fc.Arbitrary<Grant> = fc.record({
  technicianAddress: technician,
  proxyAddress: proxy,
  protocol: fc.constantFrom("tcp" as const, "udp" as const),
  port,
});
const packet: fc.Arbitrary<Packet> = fc.oneof(
  fc.record({
    iif: fc.constantFrom("meetpoint-vpn0", "meetpoint-vpn1", "eth0"),
    saddr: technician,
    daddr: proxy,
    protocol: fc.constantFrom("tcp" as const, "udp" as const, "icmp" as const),
    sport: fc.integer({ min: 1024, max: 65535 }),
    dport: port,
    state: fc.constantFrom("new" as const, "established" as const),
  }),
  fc.record({
    iif: fc.constantFrom("meetpoint-vpn0", "eth0"),
    saddr: proxy,
    daddr: technician,
    protocol: fc.constantFrom("tcp" as const, "udp" as const),
    sport: port,
    dport: fc.integer({ min: 1024, max: 65535 }),
    state: fc.constantFrom("new" as const, "established" as const),
  }),
  fc.record({
    iif: fc.constant("meetpoint-vpn0"),
    saddr: fc.constantFrom("198.18.0.5", "10.0.0.1", "100.126.0.1"),
    daddr: proxy,
    protocol: fc.constant("tcp" as const),
    sport: fc.constant(40000),
    dport: port,
    state: fc.constant("new" as const),
  }),
);

const model = (grants: Grant[]): FirewallModel => ({
  tunnelInterfaces: "meetpoint-vpn*",
  technicianPool,
  proxyPool,
  grants,
});

describe("platform ruleset", () => {
  test("for any set of grants, the rendered ruleset allows exactly what the model allows", () => {
    fc.assert(
      fc.property(
        fc.array(grant, { maxLength: 12 }),
        fc.array(packet, { minLength: 1, maxLength: 20 }),
        (grants, packets) => {
          const text = renderRuleset(model(grants));
          for (const p of packets) expect(rendererVerdict(text, p)).toBe(modelVerdict(grants, p));
        },
      ),
      { numRuns: 1000 },
    );
  });

  test("forward policy is drop, the table is replaced whole, the spoof rule comes first", () => {
    const text = renderRuleset(model([]));
    expect(text).toStartWith("table inet meetpoint\ndelete table inet meetpoint\n");
    expect(text).toContain("policy drop;");
    expect(text).not.toContain("elements");
    const lines = text.split("\n").map((l) => l.trim());
    expect(lines.findIndex((l) => l.includes("spoofed tunnel source"))).toBeLessThan(
      lines.findIndex((l) => l.includes("@service_grants accept")),
    );
  });

  test("regression: nothing arriving through a tunnel reaches the platform host itself", () => {
    const text = renderRuleset(model([]));
    const input = text.slice(text.indexOf("chain input"));
    expect(input).toContain("type filter hook input priority filter;");
    expect(input).toContain('iifname "meetpoint-vpn*" counter drop');
  });

  test("grant changes add and delete exact elements in one transaction", () => {
    const a: Grant = {
      technicianAddress: "100.127.0.11",
      proxyAddress: "100.64.0.1",
      protocol: "tcp",
      port: 443,
    };
    const b: Grant = { ...a, port: 502 };
    expect(renderGrantChange([b], [a])).toBe(
      "add element inet meetpoint service_grants { 100.127.0.11 . 100.64.0.1 . tcp . 443 }\ndelete element inet meetpoint service_grants { 100.127.0.11 . 100.64.0.1 . tcp . 443 }\nadd element inet meetpoint service_grants { 100.127.0.11 . 100.64.0.1 . tcp . 502 }\n",
    );
    expect(renderGrantChange([], [])).toBe("");
  });

  test("values that are not addresses, protocols or ports never reach the ruleset", () => {
    const bad: Grant[] = [
      {
        technicianAddress: "100.127.0.11; flush ruleset",
        proxyAddress: "100.64.0.1",
        protocol: "tcp",
        port: 1,
      },
      { technicianAddress: "100.127.0.11", proxyAddress: "100.64.0.1 }", protocol: "tcp", port: 1 },
      {
        technicianAddress: "100.127.0.11",
        proxyAddress: "100.64.0.1",
        protocol: "icmp" as "tcp",
        port: 1,
      },
      { technicianAddress: "100.127.0.11", proxyAddress: "100.64.0.1", protocol: "tcp", port: 0 },
    ];
    for (const g of bad) expect(() => renderRuleset(model([g]))).toThrow("grant: bad");
    expect(() => renderRuleset({ ...model([]), tunnelInterfaces: 'x" accept' })).toThrow(
      "bad interface pattern",
    );
  });
});
