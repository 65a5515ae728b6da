import { describe, expect, test } from "bun:test";
import { detailRows } from "./audit.tsx";

describe("an audit entry's detail, readable", () => {
  test("a change reads from → to per field; other keys in plain words", () => {
    expect(
      detailRows({
        from: { name: "Press", lanAddress: "10.0.0.1" },
        to: { name: "Press 7", lanAddress: "10.0.0.1" },
      }),
    ).toEqual([
      { key: "name", value: "Press", changedTo: { value: "Press 7" } },
      { key: "lan address", value: "10.0.0.1", changedTo: { value: "10.0.0.1" } },
    ]);
    expect(detailRows({ gatewaySessionId: "x", reason: "still in use" })).toEqual([
      { key: "gateway session id", value: "x" },
      { key: "reason", value: "still in use" },
    ]);
  });

  test("nested objects are flattened; nothing is left as raw JSON", () => {
    expect(detailRows({ grant: { role: "technician", customerId: null } })).toEqual([
      { key: "grant role", value: "technician" },
      { key: "grant customer id", value: null },
    ]);
    expect(detailRows(null)).toEqual([]);
  });
});
