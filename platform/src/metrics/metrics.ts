// The platform's Prometheus metrics (prom-client, its own registry: no global state). Gauges read
// their value when scraped; counters and histograms are fed by the wrappers below.
import { count, eq } from "drizzle-orm";
import type { MiddlewareHandler } from "hono";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { type Db, gatewaySessions, REMOTE_SESSION_STATES, remoteSessions } from "../db/index.ts";
import type { ConnectionHandler, DataPlaneStatus, WatchedSessions } from "../sessions/index.ts";
import type { Clock } from "../shared/index.ts";
import type { ForwarderStatus } from "../siem/index.ts";

/** Where the gauges read from; each a function, so tests and main pass what they have. */
export interface MetricsSources {
  db: Db;
  clock: Clock;
  dataPlane: () => DataPlaneStatus;
  /** OpenVPN server processes configured. */
  vpnServers: number;
  /** Certificates whose expiry is watched: the CAs, the HTTPS certificate. */
  certificates: () => Promise<{ name: string; notAfter: Date }[]>;
  /** When the CRL file openvpn reads was last written; null when no file is kept. */
  crlWrittenAt: () => Date | null;
  siem: () => ForwarderStatus[];
  /** Deliveries of alerts still to send. */
  alertOutbox?: () => Promise<number>;
}

/** Buckets of the control channel's latency histograms, in seconds (a long-poll lasts up to 25). */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 30];

export class PlatformMetrics {
  readonly registry = new Registry();
  private readonly decisions: Counter<"result" | "kind">;
  private readonly gatewayApi: Histogram<"endpoint">;
  private database = { cut: false, lastTickAt: null as Date | null, failing: false };

  constructor(private readonly sources: MetricsSources) {
    const registers = [this.registry];
    const { db } = sources;
    new Gauge({
      name: "meetpoint_gateways_online",
      help: "Gateways whose data channel is online",
      registers,
      async collect() {
        const [row] = await db
          .select({ n: count() })
          .from(gatewaySessions)
          .where(eq(gatewaySessions.state, "online"));
        this.set(row?.n ?? 0);
      },
    });
    new Gauge({
      name: "meetpoint_remote_sessions",
      help: "Remote sessions by state (ended: all kept, until retention prunes them)",
      labelNames: ["state"],
      registers,
      async collect() {
        const rows = await db
          .select({ state: remoteSessions.state, n: count() })
          .from(remoteSessions)
          .groupBy(remoteSessions.state);
        for (const state of REMOTE_SESSION_STATES)
          this.set({ state }, rows.find((r) => r.state === state)?.n ?? 0);
      },
    });
    this.decisions = new Counter({
      name: "meetpoint_connection_decisions_total",
      help: "OpenVPN connections decided by the platform, by result (allow, deny, error)",
      labelNames: ["result", "kind"],
      registers,
    });
    new Gauge({
      name: "meetpoint_openvpn_servers_up",
      help: "OpenVPN server processes running (0 while the data plane is off)",
      registers,
      collect() {
        this.set(sources.dataPlane().on ? sources.vpnServers : 0);
      },
    });
    new Gauge({
      name: "meetpoint_data_plane_up",
      help: "1 while the data plane (OpenVPN and nftables) runs",
      registers,
      collect() {
        this.set(sources.dataPlane().on ? 1 : 0);
      },
    });
    new Gauge({
      name: "meetpoint_crl_age_seconds",
      help: "Seconds since the CRL openvpn reads was written (it is valid for one hour)",
      registers,
      collect() {
        const written = sources.crlWrittenAt();
        if (written) this.set((sources.clock.now().getTime() - written.getTime()) / 1000);
      },
    });
    new Gauge({
      name: "meetpoint_certificate_expiry_timestamp_seconds",
      help: "When each watched certificate expires (Unix time)",
      labelNames: ["certificate"],
      registers,
      async collect() {
        this.reset();
        for (const c of await sources.certificates())
          this.set({ certificate: c.name }, c.notAfter.getTime() / 1000);
      },
    });
    const database = () => this.database;
    new Gauge({
      name: "meetpoint_database_cut",
      help: "1 while remote access is cut because the database is unreachable (fail closed)",
      registers,
      collect() {
        this.set(database().cut ? 1 : 0);
      },
    });
    new Gauge({
      name: "meetpoint_database_last_tick_timestamp_seconds",
      help: "When the session tick last reached the database (Unix time)",
      registers,
      collect() {
        const at = database().lastTickAt;
        if (at) this.set(at.getTime() / 1000);
      },
    });
    this.gatewayApi = new Histogram({
      name: "meetpoint_gateway_api_duration_seconds",
      help: "Gateway API requests (heartbeat, command long-poll, data channel) by endpoint, in seconds",
      labelNames: ["endpoint"],
      buckets: BUCKETS,
      registers,
    });
    const siemGauge = (name: string, help: string, value: (s: ForwarderStatus) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ["destination"],
        registers,
        collect() {
          this.reset();
          for (const s of sources.siem()) this.set({ destination: s.destination }, value(s));
        },
      });
    siemGauge(
      "meetpoint_siem_spool_depth",
      "Audit entries waiting for a SIEM destination",
      (s) => s.backlog,
    );
    siemGauge(
      "meetpoint_siem_alarm",
      "1 while a SIEM destination's spool is over its alarm size",
      (s) => (s.alarm ? 1 : 0),
    );
    siemGauge(
      "meetpoint_siem_connected",
      "1 while connected to a SIEM destination (on the instance forwarding)",
      (s) => (s.connected ? 1 : 0),
    );
    if (sources.alertOutbox) {
      const outbox = sources.alertOutbox;
      new Gauge({
        name: "meetpoint_alert_outbox",
        help: "Alert deliveries waiting to be sent or retried",
        registers,
        async collect() {
          this.set(await outbox());
        },
      });
    }
  }

  /** The Prometheus text exposition of every metric. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** The connection handler, counting each decision by result and by who connects. */
  countDecisions(handler: ConnectionHandler): ConnectionHandler {
    const decisions = this.decisions;
    return {
      ...handler,
      decide: async (connection, serial) => {
        try {
          const decision = await handler.decide(connection, serial);
          decisions.inc({ result: decision.allow ? "allow" : "deny", kind: "openvpn" });
          return decision;
        } catch (error) {
          decisions.inc({ result: "error", kind: "openvpn" });
          throw error;
        }
      },
      closed: (c) => handler.closed(c),
      countBytes: (c, i, o) => handler.countBytes(c, i, o),
      serverLost: (i) => handler.serverLost(i),
      activeGrants: () => handler.activeGrants(),
    };
  }

  /** The database watch's sessions, noting each tick's success and the cut. */
  watchDatabase(watched: WatchedSessions): WatchedSessions {
    const state = this.database;
    const clock = this.sources.clock;
    return {
      tick: async () => {
        await watched.tick();
        state.lastTickAt = clock.now();
      },
      cutForLostDatabase: async () => {
        state.cut = true;
        await watched.cutForLostDatabase();
      },
      recordDatabaseCut: async () => {
        const ended = await watched.recordDatabaseCut();
        state.cut = false;
        return ended;
      },
    };
  }

  /** Middleware timing gateway API requests; the endpoint is the last path segment. */
  readonly timeGatewayApi: MiddlewareHandler = async (c, next) => {
    const end = this.gatewayApi.startTimer({ endpoint: c.req.path.split("/").at(-1) ?? "" });
    try {
      await next();
    } finally {
      end();
    }
  };
}
