import { describe, expect, test } from "bun:test";
import { submittedVersion, versionOf } from "./version.ts";

describe("form versions", () => {
  test("the same values give the same version, whatever their order; a change gives another", () => {
    expect(versionOf({ name: "A", lanAddress: "10.0.0.1" })).toBe(
      versionOf({ lanAddress: "10.0.0.1", name: "A" }),
    );
    expect(versionOf({ name: "A" })).not.toBe(versionOf({ name: "B" }));
    expect(versionOf({ name: "A" })).toMatch(/^[0-9a-f]{16}$/);
  });

  test("a form without a version is not checked", () => {
    expect(submittedVersion({ name: "A" })).toBeNull();
    expect(submittedVersion({ name: "A", version: "" })).toBeNull();
    expect(submittedVersion({ version: "abc" })).toBe("abc");
    expect(submittedVersion(null)).toBeNull();
  });
});
