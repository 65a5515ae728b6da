import { expect, test } from "bun:test";
import { directEvent } from "./rules.ts";

test("a new platform admin alerts, however the role came; other roles do not", () => {
  const ok = { result: "ok" as const };
  expect(
    directEvent({ ...ok, action: "role.grant", detail: { role: "platform_admin", username: "b" } }),
  ).toBe("admin_granted");
  expect(directEvent({ ...ok, action: "role.grant", detail: { role: "technician" } })).toBeNull();
  expect(
    directEvent({
      ...ok,
      action: "user.create",
      detail: { username: "root", role: "platform_admin" },
    }),
  ).toBe("admin_granted");
  expect(directEvent({ ...ok, action: "user.create", detail: { username: "t" } })).toBeNull();
  expect(
    directEvent({
      ...ok,
      action: "role.sync",
      detail: { provider: "entra", added: ["technician/c1", "platform_admin/null"], removed: [] },
    }),
  ).toBe("admin_granted");
  expect(
    directEvent({
      ...ok,
      action: "role.sync",
      detail: { added: [], removed: ["platform_admin/null"] },
    }),
  ).toBeNull();
  // A refused grant granted nothing.
  expect(
    directEvent({ result: "denied", action: "role.grant", detail: { role: "platform_admin" } }),
  ).toBeNull();
});

test("a workspace template change awaiting a second admin alerts; a refused one does not", () => {
  expect(directEvent({ result: "ok", action: "workspace_template.propose", detail: {} })).toBe(
    "template_change_pending",
  );
  expect(
    directEvent({ result: "denied", action: "workspace_template.propose", detail: {} }),
  ).toBeNull();
});
