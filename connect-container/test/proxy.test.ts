// Plants behind an HTTP proxy, against a real tinyproxy on loopback: the control channel goes
// through HTTP CONNECT with Basic credentials; every failure of the proxy names it (refused, 407,
// 403 for the CONNECT target, TLS interception); the diagnostics test the proxy first; the
// operator's proxy is checked field by field and its password never shows up anywhere.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type HttpProxy,
  type ProcessHandle,
  spawnProcess,
  stopProcess,
  waitFor,
} from "@meetpoint/common";
import { prerequisite } from "../../common/test/support/prerequisite.ts";
import { ProxySetting } from "../src/agent/proxy-setting.ts";
import { ControlClient } from "../src/control/client.ts";
import { proxyChecks } from "../src/diagnostics/proxy.ts";
import { reportText, runDiagnostics } from "../src/diagnostics/report.ts";
import type { Enrollment } from "../src/state/store.ts";
import { createUiApp } from "../src/ui/app.tsx";
import { OperatorAuth } from "../src/ui/auth.ts";
import { uiCertificate } from "../src/ui/tls.ts";
import { clientArgs } from "../src/vpn/openvpn.ts";
import { bundle, sign, type TestAgent, testAgent } from "./support/fakes.ts";

const skip = prerequisite(
  "the proxy tests",
  Bun.which("tinyproxy") ? null : "needs tinyproxy (Debian: tinyproxy)",
);

const PASSWORD = "Pr0xy-S3cret-never-logged";
const answer = {
  serverTime: new Date().toISOString(),
  dataChannel: null,
  remoteSessions: [],
  maintenanceSessions: [],
  settings: null,
};
const report = {
  state: "idle" as const,
  gatewaySessionId: null,
  agentVersion: "0.1.0",
  openvpnVersion: null,
  localTime: new Date().toISOString(),
  lastError: null,
};

describe.skipIf(skip !== null)("plants behind an HTTP proxy (tinyproxy)", () => {
  let dir: string;
  let platform: ReturnType<typeof Bun.serve>;
  let elsewhere: ReturnType<typeof Bun.serve>;
  let intercepting: ReturnType<typeof Bun.serve>;
  let pinned: string;
  let tinyproxy: ProcessHandle | null = null;
  let proxyPort = 0;

  const proxy = (over: Partial<HttpProxy> = {}): HttpProxy => ({
    host: "127.0.0.1",
    port: proxyPort,
    username: "gateway",
    password: PASSWORD,
    ...over,
  });
  const enrollment = (port: number): Enrollment => ({
    body: {
      platformUrl: `https://localhost:${port}`,
      gatewayId: "0b6f2a5e-8c1d-4e2f-9a3b-4c5d6e7f8a9b",
      secret: "s".repeat(43),
      caCertificates: pinned,
      signingKey: { kty: "EC", crv: "P-256", x: "x".repeat(43), y: "y".repeat(43) },
    },
    version: 1,
    importedAt: new Date().toISOString(),
  });
  const beat = (port: number, through: HttpProxy) =>
    new ControlClient(
      () => enrollment(port),
      () => through,
    )
      .heartbeat(report)
      .then(
        () => "ok",
        (error: Error) => error.message,
      );

  /** A tinyproxy on loopback: Basic credentials, CONNECT only to the platform's port. */
  async function startProxy() {
    const config = join(dir, "tinyproxy.conf");
    writeFileSync(
      config,
      [
        `Port ${proxyPort}`,
        "Listen 127.0.0.1",
        "Timeout 30",
        "LogLevel Info",
        "MaxClients 20",
        "Allow 127.0.0.1",
        `ConnectPort ${platform.port}`,
        `ConnectPort ${intercepting.port}`,
        `BasicAuth gateway ${PASSWORD}`,
        `PidFile "${join(dir, "tinyproxy.pid")}"`,
        "",
      ].join("\n"),
    );
    tinyproxy = spawnProcess(["tinyproxy", "-d", "-c", config], { tailLines: 50 });
    const started = await waitFor(() => tinyproxy?.hasLine("Accepting connections") ?? false, {
      timeoutMs: 5000,
      giveUpIf: () => tinyproxy?.end !== null,
    });
    if (!started) throw new Error(`tinyproxy did not start: ${tinyproxy.tail().join("\n")}`);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "meetpoint-proxy-"));
    for (const sub of ["platform", "inspector"]) mkdirSync(join(dir, sub));
    const own = await uiCertificate(join(dir, "platform"));
    const foreign = await uiCertificate(join(dir, "inspector"));
    pinned = own.cert;
    const serve = (cert: { cert: string; key: string }) =>
      Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        tls: { cert: cert.cert, key: cert.key },
        fetch: () => Response.json(answer),
      });
    platform = serve(own);
    elsewhere = serve(own);
    // What a TLS-inspecting proxy shows the gateway: a certificate from a CA of its own.
    intercepting = serve(foreign);
    const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    proxyPort = probe.port ?? 0;
    probe.stop(true);
    await startProxy();
  }, 30_000);

  afterAll(async () => {
    if (tinyproxy) await stopProcess(tinyproxy);
    for (const server of [platform, elsewhere, intercepting]) server?.stop(true);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the control channel goes through CONNECT with Basic credentials", async () => {
    expect(await beat(platform.port ?? 0, proxy())).toBe("ok");
    expect(tinyproxy?.hasLine(`CONNECT localhost:${platform.port}`)).toBe(true);
  });

  test("each failure of the proxy names it: 407, wrong credentials, 403, TLS interception", async () => {
    const name = `the proxy 127.0.0.1:${proxyPort}`;
    const cases: [number, HttpProxy, string][] = [
      [
        platform.port ?? 0,
        proxy({ username: null, password: null }),
        `${name} asks for credentials (407`,
      ],
      [
        platform.port ?? 0,
        proxy({ password: "wrong" }),
        `${name} refused the credentials of user gateway`,
      ],
      [
        elsewhere.port ?? 0,
        proxy(),
        `${name} forbids a connection to localhost:${elsewhere.port} (403`,
      ],
      [intercepting.port ?? 0, proxy(), `TLS interception by ${name}`],
    ];
    for (const [port, through, words] of cases) {
      const message = await beat(port, through);
      expect(message).toContain(words);
      expect(message).not.toContain(PASSWORD);
    }
  });

  test("diagnostics test the proxy first and name it in what failed", async () => {
    const check = async (port: number, through: HttpProxy) =>
      (await proxyChecks(through, "operator UI", "localhost", port, pinned)).at(-1);
    const ok = await check(platform.port ?? 0, proxy());
    expect(ok).toMatchObject({
      verdict: "ok",
      check: `TLS localhost:${platform.port} through the proxy`,
    });
    expect(
      (await check(platform.port ?? 0, proxy({ username: null, password: null })))?.detail,
    ).toContain(`the proxy 127.0.0.1:${proxyPort} asks for credentials (HTTP/1.0 407`);
    expect((await check(elsewhere.port ?? 0, proxy()))?.detail).toContain(
      `forbids CONNECT to localhost:${elsewhere.port} (HTTP/1.1 403`,
    );
    const intercepted = await check(intercepting.port ?? 0, proxy());
    expect(intercepted?.verdict).toBe("fail");
    expect(intercepted?.detail).toContain("TLS interception detected");
    expect(intercepted?.detail).toContain('issued by "CN=meetpoint-gateway"');
  });

  test("the proxy stopped: the control channel and the diagnostics both blame the proxy", async () => {
    if (tinyproxy) await stopProcess(tinyproxy);
    try {
      const message = await beat(platform.port ?? 0, proxy());
      expect(message).toBe(
        `the proxy 127.0.0.1:${proxyPort} refused the connection (is it running, on this port?)`,
      );
      const lines = await proxyChecks(
        proxy(),
        "environment",
        "localhost",
        platform.port ?? 0,
        pinned,
      );
      expect(lines.at(-1)).toMatchObject({
        verdict: "fail",
        detail: `the proxy 127.0.0.1:${proxyPort} refused the connection`,
      });
    } finally {
      await startProxy();
    }
  }, 20_000);
});

describe("one rule for both channels", () => {
  test("with a proxy the data channel is asked on TCP and OpenVPN goes through http-proxy; UDP is refused naming the proxy", async () => {
    const through: HttpProxy = { host: "proxy.plant", port: 3128, username: null, password: null };
    const t = await testAgent({ proxy: () => through });
    try {
      t.control.nextEnvelope = (gatewaySessionId) =>
        sign(t.keys, "data-channel", t.gatewayId, {
          gatewaySessionId,
          profile: "client\nremote platform.lab.test 443 tcp-client\n",
        });
      await t.agent.connect("operator UI");
      expect(await waitFor(() => t.agent.status.state === "online", { timeoutMs: 3000 })).toBe(
        true,
      );
      expect(t.control.transports).toEqual(["tcp"]);
      expect(t.vpn.options.at(-1)?.httpProxy).toEqual(through);
      await t.agent.disconnect("operator UI", null);
      t.control.nextEnvelope = (gatewaySessionId) =>
        sign(t.keys, "data-channel", t.gatewayId, {
          gatewaySessionId,
          profile: "client\nremote platform.lab.test 1194 udp\n",
        });
      await t.agent.connect("operator UI");
      expect(
        await waitFor(() => (t.agent.status.lastError ?? "").includes("proxy.plant:3128"), {
          timeoutMs: 3000,
        }),
      ).toBe(true);
      expect(t.agent.status.lastError).toContain("OpenVPN over UDP");
    } finally {
      await t.dispose();
    }
  });

  test("OpenVPN's command line: --http-proxy host port, with an auth file and basic only with a user", () => {
    const paths = { profile: "/run/p.ovpn", management: "/run/m.sock" };
    expect(
      clientArgs(paths, "openvpn", { host: "proxy.plant", port: 3128, authFile: null }).join(" "),
    ).toContain("--http-proxy proxy.plant 3128 --verb");
    expect(
      clientArgs(paths, "openvpn", { host: "proxy.plant", port: 3128, authFile: "/run/a" }).join(
        " ",
      ),
    ).toContain("--http-proxy proxy.plant 3128 /run/a basic");
    expect(clientArgs(paths).join(" ")).not.toContain("http-proxy");
  });
});

describe("the operator's proxy setting", () => {
  let t: TestAgent;
  afterAll(() => t?.dispose());

  test("checked field by field (400 naming it); the password sealed and never shown, logged or reported", async () => {
    t = await testAgent();
    const events: string[] = [];
    const setting = new ProxySetting({
      store: t.store,
      environment: null,
      log: (_level, text) => events.push(text),
    });
    const auth = new OperatorAuth(t.store, "meetpoint");
    const app = createUiApp({
      agent: t.agent,
      auth,
      events: t.events,
      proxy: setting,
      diagnostics: () =>
        runDiagnostics({
          agent: t.agent,
          run: async () => ({ code: 0, stdout: "[]", stderr: "" }),
          wanInterface: "eth0",
          lanInterface: "eth1",
          ntpServers: [],
          proxy: () => setting.effective(),
        }),
    });
    let cookie = "";
    let csrf = "";
    const request = async (method: string, path: string, form?: Record<string, string>) => {
      const response = await app.request(
        `https://gateway${path}`,
        {
          method,
          headers: {
            cookie,
            ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
          },
          body: form ? new URLSearchParams({ _csrf: csrf, ...form }).toString() : undefined,
        },
        { clientIp: "192.168.0.50" },
      );
      const set = response.headers.get("set-cookie");
      if (set) cookie = set.split(";")[0] ?? "";
      const html = await response.text();
      csrf = html.match(/name="_csrf" value="([^"]+)"/)?.[1] ?? csrf;
      return { status: response.status, html };
    };
    await request("POST", "/sign-in", { password: "meetpoint" });
    await request("GET", "/password");
    await request("POST", "/password", { current: "meetpoint", next: "A-new-passw0rd" });
    const good = { host: "proxy.plant.example", port: "3128", username: "gw", password: PASSWORD };
    for (const [change, field, words] of [
      [
        { host: "http://proxy.plant.example" },
        "host",
        "Host: must be a host name or IPv4 address without a scheme",
      ],
      [{ host: "proxy plant" }, "host", "Host: must be a host name or IPv4 address without spaces"],
      [{ host: "proxy\nplant" }, "host", "Host: must be"],
      [{ port: "70000" }, "port", "Port: must be a port, 1-65535"],
      [{ port: "0" }, "port", "Port: must be a port"],
      [{ username: "a:b" }, "username", "User: must be"],
    ] as const) {
      const refused = await request("POST", "/proxy", { ...good, ...change });
      expect(refused.status).toBe(400);
      // Beside its field, under the visible label's name; what was typed stays (not the password).
      const beside = refused.html.match(
        new RegExp(`<p class="field-error" id="${field}-error">([^<]*)</p>`),
      );
      expect(beside?.[1]).toContain(words);
      expect(refused.html).toContain(`aria-invalid="true" aria-describedby="${field}-error"`);
      const kept = { ...good, ...change }[field];
      if (!kept.includes("\n")) expect(refused.html).toContain(`value="${kept}"`);
      expect(refused.html).not.toContain(PASSWORD);
    }
    expect(setting.current()).toBeNull();
    const saved = await request("POST", "/proxy", good);
    expect(saved.status).toBe(200);
    expect(saved.html).toContain(
      "proxy.plant.example:3128, user gw (password set) — set by the operator UI",
    );
    // Saving again without a password keeps it.
    await request("POST", "/proxy", { ...good, password: "" });
    expect(setting.current()?.password).toBe(PASSWORD);
    // Nowhere in clear: the page, the state volume, the event log, the diagnostics download.
    expect(saved.html).not.toContain(PASSWORD);
    for (const file of readdirSync(t.store.dir))
      expect(readFileSync(join(t.store.dir, file), "utf8")).not.toContain(PASSWORD);
    expect(events.join("\n")).not.toContain(PASSWORD);
    const diagnostics = await request("GET", "/diagnostics.txt");
    expect(diagnostics.html).toContain("HTTP proxy");
    expect(diagnostics.html).toContain("proxy.plant.example:3128");
    expect(diagnostics.html).not.toContain(PASSWORD);
    expect(
      reportText(
        await runDiagnostics({
          agent: t.agent,
          run: async () => ({ code: 0, stdout: "[]", stderr: "" }),
          wanInterface: "eth0",
          lanInterface: "eth1",
          ntpServers: [],
          proxy: () => setting.effective(),
        }),
        new Date(),
        "gw",
      ),
    ).not.toContain(PASSWORD);
    // The environment wins and cannot be changed here.
    const fixed = new ProxySetting({
      store: t.store,
      environment: { host: "env.proxy", port: 8080, username: null, password: null },
      log: () => {},
    });
    expect(fixed.effective()?.source).toBe("environment");
    expect(fixed.save(good)).toMatchObject({ ok: false, field: "host" });
  }, 30_000);

  test("a proxy from the enrollment bundle is used when nothing else is set", async () => {
    const agent = await testAgent({ enrolled: false });
    try {
      const token = await bundle(agent.keys, agent.gatewayId, {
        proxy: { host: "bundle.proxy", port: 3128, username: null, password: null },
      });
      expect((await agent.agent.importBundle(token, "test")).ok).toBe(true);
      const setting = new ProxySetting({ store: agent.store, environment: null, log: () => {} });
      expect(setting.effective()).toMatchObject({
        source: "enrollment bundle",
        proxy: { host: "bundle.proxy", port: 3128 },
      });
    } finally {
      await agent.dispose();
    }
  });
});
