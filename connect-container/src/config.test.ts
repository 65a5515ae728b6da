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
    });
  });

  test("bad values are refused with the variable's name", () => {
    const cases: [Record<string, string>, string][] = [
      [{ MEETPOINT_WAN_INTERFACE: "eth0; rm -rf /" }, "MEETPOINT_WAN_INTERFACE"],
      [{ MEETPOINT_WAN_INTERFACE: "eth1" }, "must differ"],
      [{ MEETPOINT_UI_HTTPS_PORT: "70000" }, "MEETPOINT_UI_HTTPS_PORT"],
      [{ MEETPOINT_HEARTBEAT_SECONDS: "0" }, "MEETPOINT_HEARTBEAT_SECONDS"],
    ];
    for (const [env, message] of cases) {
      expect(() => readConfig(env)).toThrow(ConfigError);
      expect(() => readConfig(env)).toThrow(message);
    }
  });
});
