import { describe, expect, test } from "bun:test";
import { ConfigError, dockerEndpointText, readConfig, VARIABLES } from "./config.ts";

describe("configuration", () => {
  test("defaults run the platform on PGlite in ./data", () => {
    const config = readConfig({});
    expect(config.databaseUrl).toBeNull();
    expect(config.dataDir).toBe("./data");
    expect(config.httpsPort).toBe(8443);
    expect(config.publicUrl.origin).toBe("https://localhost:8443");
    expect(config.kek).toEqual({ file: "./data/kek" });
    expect(config.gatewayBlockPrefix).toBe(24);
    expect(config.operations).toMatchObject({
      siemConfigFile: null,
      metrics: { token: null, networks: [] },
      retentionDays: 550,
      auditHead: { file: null, everyMs: 86_400_000 },
      smtp: null,
      webhookAllowPrivate: false,
      gatewayOfflineMs: 600_000,
      signInAlertFailures: 5,
      apiTokenMaxDays: 365,
    });
  });

  test("every bad value names its variable", () => {
    const cases: [Record<string, string>, string][] = [
      [{ MEETPOINT_HTTPS_PORT: "443x" }, "MEETPOINT_HTTPS_PORT"],
      [{ MEETPOINT_HTTPS_PORT: "70000" }, "MEETPOINT_HTTPS_PORT"],
      [{ MEETPOINT_PUBLIC_URL: "http://example.test" }, "MEETPOINT_PUBLIC_URL"],
      [{ DATABASE_URL: "mysql://x" }, "DATABASE_URL"],
      [{ MEETPOINT_TLS_CERT: "/c.pem" }, "MEETPOINT_TLS_KEY"],
      [{ MEETPOINT_KEK: "abc" }, "MEETPOINT_KEK"],
      [{ MEETPOINT_PROXY_POOL: "100.64.0.1/10" }, "MEETPOINT_PROXY_POOL"],
      [{ MEETPOINT_METRICS_TOKEN: "short" }, "MEETPOINT_METRICS_TOKEN"],
      [{ MEETPOINT_METRICS_NETWORKS: "127.0.0.1/32, localhost" }, "MEETPOINT_METRICS_NETWORKS"],
      [{ MEETPOINT_RETENTION_DAYS: "0" }, "MEETPOINT_RETENTION_DAYS"],
      [{ MEETPOINT_SMTP_URL: "http://mail.example.test" }, "MEETPOINT_SMTP_URL"],
      [
        { MEETPOINT_SMTP_URL: "smtp://m.test", MEETPOINT_SMTP_FROM: "nobody" },
        "MEETPOINT_SMTP_FROM",
      ],
      [{ MEETPOINT_WEBHOOK_ALLOW_PRIVATE: "yes" }, "MEETPOINT_WEBHOOK_ALLOW_PRIVATE"],
      [{ MEETPOINT_GATEWAY_OFFLINE_MINUTES: "ten" }, "MEETPOINT_GATEWAY_OFFLINE_MINUTES"],
      [{ MEETPOINT_API_TOKEN_MAX_DAYS: "0" }, "MEETPOINT_API_TOKEN_MAX_DAYS"],
      [
        { MEETPOINT_PROXY_POOL: "100.64.0.0/24", MEETPOINT_GATEWAY_BLOCK_PREFIX: "20" },
        "MEETPOINT_GATEWAY_BLOCK_PREFIX",
      ],
      [{ MEETPOINT_WORKSPACE_DOCKER: "/var/run/docker.sock" }, "MEETPOINT_WORKSPACE_DOCKER"],
      [{ MEETPOINT_WORKSPACE_DOCKER: "tcp://ws.test" }, "MEETPOINT_WORKSPACE_DOCKER"],
      [{ MEETPOINT_WORKSPACE_DOCKER: "http://ws.test:2375" }, "MEETPOINT_WORKSPACE_DOCKER"],
      [{ MEETPOINT_WORKSPACE_DOCKER: "tcp://ws.test:2376" }, "MEETPOINT_WORKSPACE_DOCKER_TLS_DIR"],
      [{ MEETPOINT_WORKSPACE_NETWORK_POOL: "198.19.232.1/21" }, "MEETPOINT_WORKSPACE_NETWORK_POOL"],
      [
        {
          MEETPOINT_WORKSPACE_NETWORK_POOL: "198.19.232.0/24",
          MEETPOINT_WORKSPACE_NETWORK_PREFIX: "20",
        },
        "MEETPOINT_WORKSPACE_NETWORK_PREFIX",
      ],
      [{ MEETPOINT_WORKSPACE_START_SECONDS: "1" }, "MEETPOINT_WORKSPACE_START_SECONDS"],
      [{ MEETPOINT_WORKSPACE_REPORT_URL: "ftp://{gateway}/r" }, "MEETPOINT_WORKSPACE_REPORT_URL"],
    ];
    for (const [env, variable] of cases) {
      expect(() => readConfig(env)).toThrow(ConfigError);
      expect(() => readConfig(env)).toThrow(`${variable}:`);
    }
  });

  test("the workspace Docker endpoints: the local socket, another socket, or TCP with TLS", () => {
    expect(readConfig({}).workspaceDocker).toEqual([
      { kind: "socket", socketPath: "/var/run/docker.sock" },
    ]);
    expect(
      readConfig({ MEETPOINT_WORKSPACE_DOCKER: "unix:///run/user/1000/docker.sock" })
        .workspaceDocker,
    ).toEqual([{ kind: "socket", socketPath: "/run/user/1000/docker.sock" }]);
    expect(
      readConfig({
        MEETPOINT_WORKSPACE_DOCKER: "tcp://[2001:db8::5]:2376",
        MEETPOINT_WORKSPACE_DOCKER_TLS_DIR: "/etc/meetpoint/docker",
      }).workspaceDocker,
    ).toEqual([{ kind: "tls", host: "2001:db8::5", port: 2376, tlsDir: "/etc/meetpoint/docker" }]);
  });

  test("several workspace Docker endpoints, in the order listed", () => {
    const endpoints = readConfig({
      MEETPOINT_WORKSPACE_DOCKER:
        "tcp://ws-a.example:2376, tcp://ws-b.example:2376,unix:///run/d.sock",
      MEETPOINT_WORKSPACE_DOCKER_TLS_DIR: "/etc/meetpoint/docker",
    }).workspaceDocker;
    expect(endpoints).toEqual([
      { kind: "tls", host: "ws-a.example", port: 2376, tlsDir: "/etc/meetpoint/docker" },
      { kind: "tls", host: "ws-b.example", port: 2376, tlsDir: "/etc/meetpoint/docker" },
      { kind: "socket", socketPath: "/run/d.sock" },
    ]);
    expect(endpoints.map(dockerEndpointText)).toEqual([
      "tcp://ws-a.example:2376",
      "tcp://ws-b.example:2376",
      "unix:///run/d.sock",
    ]);
    expect(dockerEndpointText({ kind: "tls", host: "2001:db8::5", port: 2376, tlsDir: "/x" })).toBe(
      "tcp://[2001:db8::5]:2376",
    );
  });

  test("a bad or repeated workspace Docker endpoint is refused, naming the entry", () => {
    const tls = { MEETPOINT_WORKSPACE_DOCKER_TLS_DIR: "/etc/meetpoint/docker" };
    const cases: [Record<string, string>, string][] = [
      [{ MEETPOINT_WORKSPACE_DOCKER: "unix:///a.sock,http://ws-b:2375" }, '"http://ws-b:2375"'],
      [{ MEETPOINT_WORKSPACE_DOCKER: "unix:///a.sock,,unix:///b.sock" }, '""'],
      [{ MEETPOINT_WORKSPACE_DOCKER: "tcp://ws-b", ...tls }, '"tcp://ws-b"'],
      [
        { MEETPOINT_WORKSPACE_DOCKER: "unix:///a.sock, unix:///a.sock" },
        '"unix:///a.sock" is listed twice',
      ],
      [
        { MEETPOINT_WORKSPACE_DOCKER: "tcp://WS-B:2376,tcp://ws-b:2376", ...tls },
        '"tcp://ws-b:2376" is listed twice',
      ],
    ];
    for (const [env, entry] of cases) {
      expect(() => readConfig(env)).toThrow(ConfigError);
      expect(() => readConfig(env)).toThrow(`MEETPOINT_WORKSPACE_DOCKER: ${entry}`);
    }
    expect(() =>
      readConfig({ MEETPOINT_WORKSPACE_DOCKER: "unix:///a.sock,tcp://ws-b:2376" }),
    ).toThrow(
      "MEETPOINT_WORKSPACE_DOCKER_TLS_DIR: required for the tcp:// Docker endpoint tcp://ws-b:2376",
    );
  });

  test("the workspace runtime: start deadline, network pool, report URL", () => {
    expect(readConfig({ MEETPOINT_HTTPS_PORT: "9443" }).workspaceRuntime).toEqual({
      startMs: 60_000,
      networkPool: { base: ((198 * 256 + 19) * 256 + 232) * 256, prefix: 21 },
      networkPrefix: 28,
      reportUrl: "https://{gateway}:9443/api/workspace/v1/report",
    });
    expect(readConfig({ MEETPOINT_WORKSPACE_START_SECONDS: "90" }).workspaceRuntime.startMs).toBe(
      90_000,
    );
  });

  test("every variable read is documented", async () => {
    const source = await Bun.file(new URL("./config.ts", import.meta.url)).text();
    const read = new Set(
      [
        ...source.matchAll(/env\.([A-Z_]+)/g),
        ...source.matchAll(/"(MEETPOINT_[A-Z_]+|DATABASE_URL)"/g),
      ].map((m) => m[1]),
    );
    for (const name of read) expect(Object.keys(VARIABLES)).toContain(name as string);
  });

  test("the README's configuration table lists every variable", async () => {
    const readme = await Bun.file(new URL("../../README.md", import.meta.url)).text();
    const missing = Object.keys(VARIABLES).filter((name) => !readme.includes(`| \`${name}\` |`));
    expect(missing).toEqual([]);
  });
});
