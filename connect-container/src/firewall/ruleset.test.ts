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

  test("SSH from the tunnel: only to the gateway's tunnel address, only in a maintenance session", () => {
    const closed = renderGatewayRuleset(model);
    expect(closed).toContain('iifname "tun0" tcp dport 22 counter drop');
    expect(closed).not.toContain("maintenance session: SSH to the gateway");
    const open = renderGatewayRuleset({
      ...model,
      maintenanceSsh: { tunnelAddress: "100.127.0.2" },
    });
    const accept = open.indexOf('iifname "tun0" ip daddr 100.127.0.2 tcp dport 22 accept');
    // The accept comes before the drop that ends established SSH flows once the session is over.
    expect(accept).toBeGreaterThan(0);
    expect(accept).toBeLessThan(open.indexOf('iifname "tun0" tcp dport 22 counter drop'));
    // Without a tunnel there is nothing to open, whatever the model says.
    const offline = renderGatewayRuleset({
      ...model,
      tunnelInterface: null,
      maintenanceSsh: { tunnelAddress: "100.127.0.2" },
    });
    expect(offline).not.toContain("dport 22");
  });

  test("operator UI on the WAN side only where the platform's setting says so", () => {
    expect(renderGatewayRuleset(model)).not.toContain("operator UI on the WAN side");
    const text = renderGatewayRuleset({ ...model, uiPortsOnWan: [443, 80, 443] });
    expect(text).toContain(
      `tcp dport { 443, 80 } accept comment "operator UI on the WAN side: the platform's setting"`,
    );
    // After every tunnel rule (the tunnel's last rule drops), before the WAN side's final drop.
    expect(text.indexOf("tcp dport { 443, 80 }")).toBeGreaterThan(
      text.indexOf("the gateway itself is closed to the tunnel"),
    );
    expect(text.indexOf("tcp dport { 443, 80 }")).toBeLessThan(
      text.indexOf("nothing listens on the WAN side"),
    );
  });

  test("bad values never reach the ruleset", () => {
    expect(() => renderGatewayRuleset({ ...model, uiPortsOnWan: [0] })).toThrow("bad UI port");
    expect(() =>
      renderGatewayRuleset({ ...model, maintenanceSsh: { tunnelAddress: "1.2.3.4; drop" } }),
    ).toThrow("bad tunnel address");
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

describe("read-only Modbus services", () => {
  const filtered: GatewayFirewall = {
    ...model,
    services: [model.services[0] as GatewayFirewall["services"][number]],
    modbusFilters: [{ proxyAddress: "100.64.0.1", port: 502, listenerPort: 41234 }],
  };

  test("are redirected to the agent's filter before any DNAT, and only its port is open", () => {
    const text = renderGatewayRuleset(filtered);
    const redirect = text.indexOf(
      'iifname "tun0" ip daddr 100.64.0.1 tcp dport 502 redirect to :41234 comment "read-only Modbus: to the agent\'s filter"',
    );
    expect(redirect).toBeGreaterThan(0);
    expect(redirect).toBeLessThan(text.indexOf("dnat ip to ip daddr map @proxy_to_lan"));
    expect(text).not.toContain("192.168.0.10 . tcp . 502");
    expect(text).toContain(
      'iifname "tun0" ct status dnat tcp dport { 41234 } accept comment "read-only Modbus filter"',
    );
    // The filter's rule comes before the tunnel's final drop.
    expect(text.indexOf("read-only Modbus filter")).toBeLessThan(
      text.indexOf("the gateway itself is closed to the tunnel"),
    );
  });

  test("per session: only the read-only technicians are redirected, and never pass in full", () => {
    const text = renderGatewayRuleset({
      ...model,
      services: [
        { proxyAddress: "100.64.0.1", lanAddress: "192.168.0.10", protocol: "tcp", port: 502 },
      ],
      modbusFilters: [
        {
          proxyAddress: "100.64.0.1",
          port: 502,
          listenerPort: 41234,
          technicianAddresses: ["100.96.0.5", "100.96.0.7"],
        },
      ],
      readOnlyFlows: [
        { technicianAddress: "100.96.0.5", lanAddress: "192.168.0.10", port: 502 },
        { technicianAddress: "100.96.0.7", lanAddress: "192.168.0.10", port: 502 },
      ],
    });
    expect(text).toContain(
      'iifname "tun0" ip saddr { 100.96.0.5, 100.96.0.7 } ip daddr 100.64.0.1 tcp dport 502 redirect to :41234',
    );
    // The full technician's 502 stays DNAT'ed.
    expect(text).toContain("192.168.0.10 . tcp . 502");
    expect(text).toContain(
      "elements = { 100.96.0.5 . 192.168.0.10 . 502, 100.96.0.7 . 192.168.0.10 . 502 }",
    );
    const drop = text.indexOf(
      'iifname "tun0" ip saddr . ip daddr . tcp dport @read_only_flows counter drop',
    );
    expect(drop).toBeGreaterThan(0);
    expect(drop).toBeLessThan(text.indexOf("ct status dnat ip daddr . meta l4proto"));
  });

  test("a read-only service nobody has read-only now is not redirected; a bad source is refused", () => {
    const none = renderGatewayRuleset({
      ...filtered,
      modbusFilters: [
        { proxyAddress: "100.64.0.1", port: 502, listenerPort: 41234, technicianAddresses: [] },
      ],
    });
    expect(none).not.toContain("redirect");
    expect(() =>
      renderGatewayRuleset({
        ...filtered,
        readOnlyFlows: [{ technicianAddress: "1.2.3", lanAddress: "192.168.0.10", port: 502 }],
      }),
    ).toThrow("gateway firewall: bad technician address 1.2.3");
  });

  test("without a data channel nothing is redirected", () => {
    const text = renderGatewayRuleset({ ...filtered, tunnelInterface: null });
    expect(text).not.toContain("redirect");
    expect(text).not.toContain("41234");
  });

  test("a bad filter port is refused", () => {
    expect(() =>
      renderGatewayRuleset({
        ...filtered,
        modbusFilters: [{ proxyAddress: "100.64.0.1", port: 502, listenerPort: 0 }],
      }),
    ).toThrow("gateway firewall: bad filter port 0");
  });
});
