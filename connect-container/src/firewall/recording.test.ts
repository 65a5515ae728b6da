import { describe, expect, test } from "bun:test";
import { RecordingFirewall } from "./recording.ts";

describe("demo mode's firewall", () => {
  test("records the ruleset the kernel firewall would apply, says so once per change, touches nothing", async () => {
    const said: string[] = [];
    const firewall = new RecordingFirewall((text) => said.push(text));
    const closed = { lanInterface: "eth1", tunnelInterface: null, services: [] };
    await firewall.apply(closed);
    await firewall.apply(closed);
    expect(firewall.lastRuleset).toContain("table inet meetpoint");
    expect(firewall.applied).toBe(2);
    expect(said).toEqual([
      "DRY RUN: firewall not applied (0 service(s) would be open); nothing is protected",
    ]);
    await firewall.forgetFlows([
      { protocol: "tcp", proxyAddress: "100.64.0.1", lanAddress: "192.168.0.10", port: 80 },
    ]);
    expect(firewall.forgotten).toEqual(["tcp 100.64.0.1:80"]);
  });
});
