import { describe, expect, test } from "bun:test";
import { parseCidr } from "@meetpoint/common";
import { blockOf, freeAddress, freeBlock } from "./proxy-pool.ts";

const pool = { pool: parseCidr("100.64.0.0/10") ?? { base: 0, prefix: 0 }, blockPrefix: 24 };

describe("proxy pool", () => {
  test("gateways take the lowest free block", () => {
    expect(freeBlock(pool, [])).toBe(0);
    expect(freeBlock(pool, [0, 1, 3])).toBe(2);
    const tiny = { pool: parseCidr("100.64.0.0/23") ?? { base: 0, prefix: 0 }, blockPrefix: 24 };
    expect(freeBlock(tiny, [0, 1])).toBeNull();
    const reserved = { ...tiny, reserved: [parseCidr("100.64.0.0/24") ?? { base: 0, prefix: 0 }] };
    expect(freeBlock(reserved, [])).toBe(1);
    expect(freeBlock(reserved, [1])).toBeNull();
  });

  test("machines take the lowest free address, never the block's first or last", () => {
    const block = blockOf(pool, 2);
    expect(freeAddress(block, [])).toBe("100.64.2.1");
    expect(freeAddress(block, ["100.64.2.1", "100.64.2.3"])).toBe("100.64.2.2");
    const all = Array.from({ length: 254 }, (_, i) => `100.64.2.${i + 1}`);
    expect(freeAddress(block, all)).toBeNull();
  });
});
