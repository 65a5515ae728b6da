import { expect, test } from "bun:test";
import { loadConfig } from "./spec.ts";

const spec = {
  vnc: { password: "Vnc-7x2q" },
  profile: { kind: "ipsec", swanctl: "connections { }" },
  firewall: "table inet meetpoint_workspace { }",
  report: { url: "https://platform.example/api/workspaces/report", token: "0123456789abcdef" },
};
const noFile = () => {
  throw new Error("ENOENT");
};

test("the spec from the env variable, reports every 30 s unless told otherwise", () => {
  const config = loadConfig({ MEETPOINT_WORKSPACE_SPEC: JSON.stringify(spec) }, noFile);
  expect(config.spec).toEqual(spec as typeof config.spec);
  expect(config.reportIntervalMs).toBe(30_000);
});

test("the spec from the file when the variable is absent", () => {
  const read: string[] = [];
  const config = loadConfig({ MEETPOINT_WORKSPACE_REPORT_SECONDS: "5" }, (path) => {
    read.push(path);
    return JSON.stringify(spec);
  });
  expect(read).toEqual(["/run/meetpoint/spec.json"]);
  expect(config.reportIntervalMs).toBe(5000);
});

test("invalid fields are named, their values (secrets) never shown", () => {
  const bad = {
    ...spec,
    vnc: { password: "x" },
    report: { url: "ftp://x", token: "short-secret" },
  };
  let message = "";
  try {
    loadConfig({ MEETPOINT_WORKSPACE_SPEC: JSON.stringify(bad) }, noFile);
  } catch (error) {
    message = (error as Error).message;
  }
  expect(message).toBe(
    "workspace spec (MEETPOINT_WORKSPACE_SPEC): invalid vnc.password, report.url, report.token",
  );
  expect(message).not.toContain("short-secret");
});

test("no spec at all, or not JSON: a clear error", () => {
  expect(() => loadConfig({}, noFile)).toThrow(
    "workspace spec: neither MEETPOINT_WORKSPACE_SPEC nor a readable /run/meetpoint/spec.json",
  );
  expect(() => loadConfig({ MEETPOINT_WORKSPACE_SPEC: "{" }, noFile)).toThrow("not JSON");
  expect(() =>
    loadConfig(
      { MEETPOINT_WORKSPACE_SPEC: JSON.stringify(spec), MEETPOINT_WORKSPACE_REPORT_SECONDS: "0" },
      noFile,
    ),
  ).toThrow("MEETPOINT_WORKSPACE_REPORT_SECONDS");
});

test("the spec from stdin comes first, and is named as the source of errors", () => {
  const env = { MEETPOINT_WORKSPACE_SPEC: "{" };
  expect(loadConfig(env, noFile, JSON.stringify(spec)).spec.vnc.password).toBe("Vnc-7x2q");
  expect(() => loadConfig(env, noFile, "")).toThrow("workspace spec (stdin): not JSON");
});
