// /metrics: Prometheus text from prom-client, behind a bearer token or an allowed network, with the
// series the monitoring stack alerts on (docs/alerting-rules.yml) moving as the platform works.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseCidr, waitFor } from "@meetpoint/common";
import { PlatformMetrics } from "../src/metrics/index.ts";
import { SiemExport } from "../src/siem/index.ts";
import { AuthFailures, createApp } from "../src/web/index.ts";
import { arrangeMachine, type Scene } from "./support/arrange.ts";
import { dataChannelProfile, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { freePort } from "./support/rsyslog.ts";

const TOKEN = "metrics-token-0123456789";
let p: TestPlatform;
let metrics: PlatformMetrics;
let siem: SiemExport;
let scene: Scene;

/** The value of one sample line (`name{labels} value`), or null when absent. */
function sample(text: string, series: string): number | null {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : null;
}

beforeAll(async () => {
  const deadPort = await freePort(); // nothing listens there: a collector that does not answer
  p = await testPlatform({
    extraDeps: ({ db, clock, access }) => {
      siem = new SiemExport({
        db,
        clock,
        config: {
          alarmBacklog: 3,
          destinations: [
            { name: "down", url: `tcp://127.0.0.1:${deadPort}`, format: "rfc5424", facility: 13 },
          ],
        },
        identity: { hostname: "platform.lab.test" },
        version: "test",
        instance: "metrics-test",
        pollMs: 50,
      });
      metrics = new PlatformMetrics({
        db,
        clock,
        dataPlane: () => access.gate.status(),
        vpnServers: 1,
        certificates: async () => [{ name: "https", notAfter: new Date("2027-01-01T00:00:00Z") }],
        crlWrittenAt: () => new Date(clock.now().getTime() - 90_000),
        siem: () => siem.status(),
      });
      return {
        metrics: { collector: metrics, access: { token: TOKEN, networks: [] } },
        siemStatus: () => siem.status(),
      };
    },
  });
  scene = await arrangeMachine(p, [{ name: "Web", protocol: "tcp", port: 80, enabled: true }]);
}, 60_000);
afterAll(async () => {
  await siem?.stop();
  await p?.dispose();
});

const scrape = (authorization?: string) =>
  p.app.request("https://localhost/metrics", {
    headers: authorization ? { authorization } : {},
  });

describe("/metrics", () => {
  test("without the token, or with a wrong one: 401 and nothing else", async () => {
    for (const auth of [undefined, "Bearer wrong", `Bearer ${TOKEN}x`, TOKEN]) {
      const response = await scrape(auth);
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe('Bearer realm="metrics"');
      expect(await response.text()).not.toContain("meetpoint_");
    }
  });

  test("the series move with the platform: gateways online, sessions, decisions, SIEM spool, heartbeat latency", async () => {
    const handler = metrics.countDecisions(p.access.connections);
    const { envelope } = await p.access.dataChannels.request(scene.gatewayId);
    const gatewayProfile = await dataChannelProfile(p, scene.gatewayId, envelope);
    expect((await handler.decide("0:1", serialOf(gatewayProfile))).allow).toBe(true);
    const { profile } = await p.access.remoteSessions.request(scene.technician, scene.machineId, {
      reason: "metrics",
    });
    expect((await handler.decide("0:2", serialOf(profile))).allow).toBe(true);
    expect((await handler.decide("0:3", serialOf(profile))).allow).toBe(false); // spent: a replay
    const beat = await p.app.request("https://localhost/api/gateway/v1/heartbeat", {
      method: "POST",
      headers: {
        authorization: `Bearer ${scene.gatewayId}.${scene.gatewaySecret}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({
        state: "online",
        gatewaySessionId: null,
        agentVersion: "1",
        openvpnVersion: null,
        localTime: p.clock.now().toISOString(),
        lastError: null,
      }),
    });
    expect(beat.status).toBe(200);
    siem.start();
    expect(await waitFor(() => siem.status()[0]?.alarm === true, { timeoutMs: 10_000 })).toBe(true);

    const response = await scrape(`Bearer ${TOKEN}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    const text = await response.text();
    expect(sample(text, "meetpoint_gateways_online")).toBe(1);
    expect(sample(text, 'meetpoint_remote_sessions{state="active"}')).toBe(1);
    expect(sample(text, 'meetpoint_remote_sessions{state="requested"}')).toBe(0);
    expect(
      sample(text, 'meetpoint_connection_decisions_total{result="allow",kind="openvpn"}'),
    ).toBe(2);
    expect(sample(text, 'meetpoint_connection_decisions_total{result="deny",kind="openvpn"}')).toBe(
      1,
    );
    expect(sample(text, "meetpoint_openvpn_servers_up")).toBe(1);
    expect(sample(text, "meetpoint_crl_age_seconds")).toBe(90);
    expect(
      sample(text, 'meetpoint_certificate_expiry_timestamp_seconds{certificate="https"}'),
    ).toBe(1798761600);
    expect(sample(text, "meetpoint_database_cut")).toBe(0);
    expect(sample(text, 'meetpoint_gateway_api_duration_seconds_count{endpoint="heartbeat"}')).toBe(
      1,
    );
    expect(sample(text, 'meetpoint_siem_spool_depth{destination="down"}')).toBeGreaterThan(3);
    expect(sample(text, 'meetpoint_siem_alarm{destination="down"}')).toBe(1);
    expect(sample(text, 'meetpoint_siem_connected{destination="down"}')).toBe(0);
    // The Status page says the same to the admin.
    const status = await p.admin.page("/status");
    expect(status).toMatch(/<strong>\d+ entries: ALARM<\/strong>/);
    expect(status).toContain("ECONNREFUSED");
  });

  test("a configured network reads without the token; other addresses still need it; unconfigured, /metrics does not exist", async () => {
    const serve = (access: { token: string | null; networks: ReturnType<typeof parseCidr>[] }) => {
      const app = createApp(depsOf(access));
      return Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
    };
    const depsOf = (access: {
      token: string | null;
      networks: ReturnType<typeof parseCidr>[];
    }) => ({
      db: p.database.db,
      clock: p.clock,
      oidc: { db: p.database.db, clock: p.clock, pki: p.pki, clients: undefined as never },
      session: { idleMs: 60_000, absoluteMs: 60_000 },
      proxyPool: p.proxyPool,
      pki: p.pki,
      access: p.access,
      authFailures: new AuthFailures(p.database.db, p.clock),
      enrollment: { platformUrl: "https://x", validMs: 1 },
      metrics: {
        collector: metrics,
        access: { token: access.token, networks: access.networks.filter((n) => n !== null) },
      },
    });
    const loopback = serve({ token: null, networks: [parseCidr("127.0.0.0/8")] });
    const elsewhere = serve({ token: TOKEN, networks: [parseCidr("198.18.0.0/15")] });
    const off = serve({ token: null, networks: [] });
    try {
      const open = await fetch(`http://127.0.0.1:${loopback.port}/metrics`);
      expect(open.status).toBe(200);
      expect(await open.text()).toContain("meetpoint_gateways_online");
      expect((await fetch(`http://127.0.0.1:${elsewhere.port}/metrics`)).status).toBe(401);
      const withToken = await fetch(`http://127.0.0.1:${elsewhere.port}/metrics`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(withToken.status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${off.port}/metrics`)).status).toBe(404);
    } finally {
      loopback.stop(true);
      elsewhere.stop(true);
      off.stop(true);
    }
  });
});

test("the sample alerting rules name only series /metrics has", async () => {
  const rules = await Bun.file(new URL("../../docs/alerting-rules.yml", import.meta.url)).text();
  const used = new Set(
    [...rules.matchAll(/\b(meetpoint_[a-z_]+?)(?:_bucket|_count|_sum)?\b/g)].map((m) => m[1]),
  );
  const withOutbox = new PlatformMetrics({
    db: p.database.db,
    clock: p.clock,
    dataPlane: () => ({ on: true }),
    vpnServers: 1,
    certificates: async () => [],
    crlWrittenAt: () => null,
    siem: () => [],
    alertOutbox: async () => 0,
  });
  const names = withOutbox.registry.getMetricsAsArray().map((m) => m.name);
  expect(used.size).toBeGreaterThan(8);
  for (const name of used) expect(names).toContain(name as string);
});
