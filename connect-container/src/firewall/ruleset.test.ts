import { describe, expect, test } from "bun:test";
import { type GatewayFirewall, renderGatewayRuleset } from "./ruleset.ts";

const model: GatewayFirewall = {
  lanInterface: "eth1",
  tunnelInterface: "tun0",
  services: [
    { proxyAddress: "100.64.0.1", lanAddress: "192.168.0.10", protocol: "tcp", port: 443 },
    { proxyAddress: "100.64.0.1", lanAddress: "192.168.0.10", protocol: "tcp", port: 502 },
  ],
};

describe("gateway ruleset", () => {
  test("tunnel → LAN only for enabled services, translated 1:1; WAN and LAN never meet", () => {
    const text = renderGatewayRuleset(model);
    expect(text).toContain("elements = { 100.64.0.1 : 192.168.0.10 }");
    expect(text).toContain("elements = { 100.64.0.1 . tcp . 443, 100.64.0.1 . tcp . 502 }");
    expect(text).toContain("elements = { 192.168.0.10 . tcp . 443, 192.168.0.10 . tcp . 502 }");
    expect(text).toContain('oifname "eth1" counter drop comment "WAN to LAN: never"');
    expect(text).toContain('iifname "eth1" counter drop comment "LAN to WAN: never"');
    // Only loopback and the LAN reach the gateway itself; the WAN side is whatever else exists.
    expect(text).toContain('iifname { "lo", "eth1" } accept');
    expect(text).toContain('counter drop comment "nothing listens on the WAN side"');
    expect(text).toContain('iifname "tun0" oifname "eth1" masquerade');
    expect(text).toContain("policy drop;");
  });

  test("disconnected: no tunnel rule, no mapping, nothing forwarded", () => {
    const text = renderGatewayRuleset({ ...model, tunnelInterface: null });
    expect(text).not.toContain("tun0");
    expect(text).not.toContain("elements");
    expect(text).not.toContain("masquerade");
  });

  test("bad values never reach the ruleset", () => {
    expect(() => renderGatewayRuleset({ ...model, lanInterface: 'eth1" accept' })).toThrow(
      "bad interface name",
    );
    const bad = (change: object) =>
      renderGatewayRuleset({ ...model, services: [{ ...model.services[0], ...change } as never] });
    expect(() => bad({ lanAddress: "192.168.0.10 }" })).toThrow("bad LAN address");
    expect(() => bad({ port: 0 })).toThrow("bad port");
    expect(() => bad({ protocol: "icmp" })).toThrow("bad protocol");
    expect(() =>
      renderGatewayRuleset({
        ...model,
        services: [
          model.services[0] as never,
          { ...model.services[1], lanAddress: "192.168.0.11" } as never,
        ],
      }),
    ).toThrow("maps to two LAN addresses");
  });
});
