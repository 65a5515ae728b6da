import { describe, expect, test } from "bun:test";
import { ConfigError, readConfig } from "./config.ts";

describe("agent configuration", () => {
  test("defaults: eth0/eth1, HTTPS 443 with HTTP redirect, PTB time servers, import dir in the volume", () => {
    const config = readConfig({ MEETPOINT_DATA_DIR: "/data" });
    expect(config).toMatchObject({
      dataDir: "/data",
      importDir: "/data/import",
      wanInterface: "eth0",
      lanInterface: "eth1",
      httpsPort: 443,
      httpPort: 80,
      initialPassword: "meetpoint",
      ntpServers: ["ptbtime1.ptb.de", "ptbtime2.ptb.de", "ptbtime3.ptb.de"],
      heartbeatMs: 10_000,
      firewall: "kernel",
    });
  });

  test("demo mode only when asked for by name", () => {
    expect(readConfig({ MEETPOINT_FIREWALL: "dry-run" }).firewall).toBe("dry-run");
    expect(() => readConfig({ MEETPOINT_FIREWALL: "off" })).toThrow("MEETPOINT_FIREWALL");
  });

  test("bad values are refused with the variable's name", () => {
    const cases: [Record<string, string>, string][] = [
      [{ MEETPOINT_WAN_INTERFACE: "eth0; rm -rf /" }, "MEETPOINT_WAN_INTERFACE"],
      [{ MEETPOINT_WAN_INTERFACE: "eth1" }, "must differ"],
      [{ MEETPOINT_UI_HTTPS_PORT: "70000" }, "MEETPOINT_UI_HTTPS_PORT"],
      [{ MEETPOINT_HEARTBEAT_SECONDS: "0" }, "MEETPOINT_HEARTBEAT_SECONDS"],
      [{ MEETPOINT_HTTP_PROXY: "http://proxy.corp:3128" }, "MEETPOINT_HTTP_PROXY: host must be"],
      [{ MEETPOINT_HTTP_PROXY: "proxy corp:3128" }, "without spaces"],
      [{ MEETPOINT_HTTP_PROXY: "proxy.corp:70000" }, "port must be a port"],
      [{ MEETPOINT_HTTP_PROXY: "proxy.corp" }, "must be host:port"],
      [
        { MEETPOINT_HTTP_PROXY: "p:3128", MEETPOINT_HTTP_PROXY_USER: "a:b" },
        "MEETPOINT_HTTP_PROXY_USER",
      ],
      [{ MEETPOINT_SSH_USER: "root;id" }, "MEETPOINT_SSH_USER"],
      [{ MEETPOINT_FIREWALL: "none" }, "MEETPOINT_FIREWALL"],
    ];
    for (const [env, message] of cases) {
      expect(() => readConfig(env)).toThrow(ConfigError);
      expect(() => readConfig(env)).toThrow(message);
    }
  });
});

test("one explicit proxy: MEETPOINT_HTTP_PROXY read and checked; ambient HTTPS_PROXY named, not used", () => {
  const config = readConfig({
    MEETPOINT_HTTP_PROXY: "Proxy.Corp.example:3128",
    MEETPOINT_HTTP_PROXY_USER: "gateway",
    HTTPS_PROXY: "http://elsewhere:8080",
  });
  expect(config.httpProxy).toEqual({
    host: "proxy.corp.example",
    port: 3128,
    username: "gateway",
    password: null,
  });
  expect(config.ignoredProxyVariables).toEqual(["HTTPS_PROXY"]);
  expect(readConfig({}).httpProxy).toBeNull();
});

test("every variable the agent reads is documented, in VARIABLES and in the README", async () => {
  const source = await Bun.file(new URL("./config.ts", import.meta.url)).text();
  const read = new Set([...source.matchAll(/(?:env\.|")(MEETPOINT_[A-Z_]+)/g)].map((m) => m[1]));
  const { VARIABLES } = await import("./config.ts");
  for (const name of read) expect(Object.keys(VARIABLES)).toContain(name as string);
  const readme = await Bun.file(new URL("../../README.md", import.meta.url)).text();
  const section = readme.slice(readme.indexOf("## The gateway (connect agent)"));
  expect(Object.keys(VARIABLES).filter((name) => !section.includes(`| \`${name}\` |`))).toEqual([]);
});
