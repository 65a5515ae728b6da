import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  formatCidr,
  formatIpv4,
  netmask,
  parseCidr,
  parseIpv4,
  prefixOfNetmask,
  subBlock,
  subBlockCount,
} from "./ipv4.ts";

describe("ipv4", () => {
  test("parses and formats round-trip for every address", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (n) => {
        expect(parseIpv4(formatIpv4(n))).toBe(n);
      }),
    );
  });

  test("rejects what is not a dotted quad", () => {
    for (const bad of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.0.0.1",
      "01.2.3.4",
      "1.2.3.-4",
      " 1.2.3.4",
      "a.b.c.d",
    ]) {
      expect(parseIpv4(bad)).toBeNull();
    }
  });

  test("CIDR needs zero host bits and a prefix 0..32", () => {
    expect(parseCidr("100.64.0.0/10")).toEqual({
      base: parseIpv4("100.64.0.0") as number,
      prefix: 10,
    });
    expect(parseCidr("100.64.0.1/10")).toBeNull();
    expect(parseCidr("100.64.0.0/33")).toBeNull();
    expect(parseCidr("100.64.0.0")).toBeNull();
    expect(parseCidr("100.64.0.0/10/1")).toBeNull();
  });

  test("sub-blocks tile the pool exactly", () => {
    const pool = parseCidr("100.64.0.0/10");
    if (!pool) throw new Error("pool");
    expect(subBlockCount(pool, 24)).toBe(16384);
    expect(formatCidr(subBlock(pool, 24, 0) as never)).toBe("100.64.0.0/24");
    expect(formatCidr(subBlock(pool, 24, 16383) as never)).toBe("100.127.255.0/24");
    expect(subBlock(pool, 24, 16384)).toBeNull();
    expect(subBlock(pool, 8, 0)).toBeNull();
  });

  test("netmasks of prefix lengths", () => {
    expect([0, 8, 20, 24, 30, 32].map(netmask)).toEqual([
      "0.0.0.0",
      "255.0.0.0",
      "255.255.240.0",
      "255.255.255.0",
      "255.255.255.252",
      "255.255.255.255",
    ]);
  });

  test("prefix lengths of netmasks: each prefix round-trips; gaps and non-addresses are null", () => {
    for (let prefix = 0; prefix <= 32; prefix++)
      expect(prefixOfNetmask(netmask(prefix))).toBe(prefix);
    for (const mask of [
      "255.0.255.0",
      "255.255.255.1",
      "0.255.255.255",
      "255.255.256.0",
      "255.255.255",
      "vpn_gateway",
    ])
      expect(prefixOfNetmask(mask)).toBeNull();
  });
});
