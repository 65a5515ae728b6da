import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { AUDIT_ACTIONS } from "./actions.ts";

test("docs/audit-actions.md lists exactly the catalogue, with the same words", () => {
  const doc = readFileSync(new URL("../../../docs/audit-actions.md", import.meta.url), "utf8");
  const rows = [...doc.matchAll(/^\| `([^`]+)` \| (.+) \|$/gm)].map((m) => [m[1], m[2]]);
  expect(Object.fromEntries(rows)).toEqual({ ...AUDIT_ACTIONS });
});

test("actions are dotted lower-case names", () => {
  for (const action of Object.keys(AUDIT_ACTIONS)) expect(action).toMatch(/^[a-z_]+(\.[a-z_]+)?$/);
});
