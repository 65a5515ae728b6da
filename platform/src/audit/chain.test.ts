import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { canonicalJson, entryHash, GENESIS_HASH } from "./chain.ts";

const base = {
  at: new Date("2026-05-01T10:00:00.123Z"),
  actorId: null,
  actorName: "admin",
  action: "customer.create",
  targetType: "customer",
  targetId: "c1",
  customerId: null,
  ip: "198.18.0.1",
  result: "ok",
  detail: { name: "ACME", nested: { b: 1, a: [1, "x"] } },
  prevHash: GENESIS_HASH,
};

describe("audit chain hashing", () => {
  test("canonical JSON ignores key order at every depth", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (value) => {
        const reversed = Object.fromEntries(Object.entries(value).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(value));
      }),
    );
  });

  test("the hash survives a JSON round-trip of the detail (as jsonb does)", () => {
    const roundTripped = {
      ...base,
      detail: JSON.parse(JSON.stringify({ nested: { a: [1, "x"], b: 1 }, name: "ACME" })),
    };
    expect(entryHash(roundTripped)).toBe(entryHash(base));
  });

  test("every field is covered by the hash", () => {
    const original = entryHash(base);
    const changes: Record<string, unknown>[] = [
      { at: new Date("2026-05-01T10:00:00.124Z") },
      { actorName: "mallory" },
      { action: "customer.delete" },
      { targetId: "c2" },
      { ip: "198.18.0.2" },
      { result: "failed" },
      { detail: { name: "ACME!" } },
      { prevHash: "f".repeat(64) },
    ];
    for (const change of changes)
      expect(entryHash({ ...base, ...change } as typeof base)).not.toBe(original);
  });
});
