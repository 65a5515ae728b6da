// A load process of the control-plane benchmark: simulated gateways speaking the agent's protocol
// to a running platform — each with its own two keep-alive TLS connections (HTTP/1.1, RFC 9112),
// one for heartbeats (every 10 s ± 10 %, the first at a random moment of the first interval) and
// one for the command long-poll (wait=25, at once again after each answer). The agent's timing
// (connect-container/src/agent/control-loops.ts) and back-off are kept; what a heartbeat
// reports is a gateway whose operator has not pressed Connect.
//
// Started by control-plane.ts with a JSON job file as its argument; on SIGTERM it closes every
// connection and prints one JSON line of figures (latencies in ms) to stdout. On SIGUSR1 every
// connection is reset at once, as when the platform instance behind them dies (the reconnect
// flood): each gateway reconnects by its own timing and back-off, and the time until its first
// heartbeat is answered again is recorded.
//
// Also the portal prober (job.role "portal"): GET /healthz and one signed-in page, every 500 ms,
// each on a fresh request, as a person's browser would while the gateways load the platform.
import { readFileSync } from "node:fs";
import { connect, type TLSSocket } from "node:tls";
import type { HeartbeatRequest } from "@meetpoint/common";
import {
  CAPABILITIES,
  jittered,
  waitAfter,
} from "../../connect-container/src/agent/control-loops.ts";

export interface GatewayJob {
  role: "gateways";
  port: number;
  gateways: { id: string; secret: string }[];
  heartbeatMs: number;
}

export interface PortalJob {
  role: "portal";
  port: number;
  /** Cookie header of a signed-in admin. */
  cookie: string;
  page: string;
}

export interface GatewayFigures {
  heartbeatsMs: number[];
  /** When each of heartbeatsMs was sent, in ms since the load process started. */
  heartbeatsSentMs: number[];
  /** Command enqueue (the platform's clock) → received by the gateway, in ms. */
  commandsMs: number[];
  /** When each of commandsMs was enqueued, epoch ms (the platform's clock). */
  commandsAt: number[];
  /** Milliseconds from the process start until each gateway's first successful heartbeat. */
  firstBeatMs: number[];
  errors: Record<string, number>;
  reconnects: number;
  /** The reconnect flood (SIGUSR1): when it began, ms since the process started; null: none. */
  floodAtMs: number | null;
  /** Per gateway, ms from the flood to its first heartbeat answered again. */
  recoveredBeatMs: number[];
  /** Errors after the flood began (the resets themselves included); not in `errors`. */
  floodErrors: Record<string, number>;
}

export interface PortalFigures {
  healthzMs: number[];
  pageMs: number[];
  errors: Record<string, number>;
}

interface Response {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** One keep-alive HTTP/1.1 connection over TLS; one request at a time, reconnected when closed. */
class Connection {
  private socket: TLSSocket | null = null;
  private buffer = Buffer.alloc(0);
  private waiting: { resolve: (r: Response) => void; reject: (e: Error) => void } | null = null;

  constructor(
    private readonly port: number,
    private readonly onReconnect: () => void,
  ) {}

  private open(): Promise<TLSSocket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    if (this.socket) this.onReconnect();
    return new Promise((resolve, reject) => {
      // The simulated agent does not pin the platform's CA (a real one does): the handshake and
      // its cost on the platform are the same.
      const socket = connect({ host: "127.0.0.1", port: this.port, rejectUnauthorized: false });
      socket.once("secureConnect", () => {
        this.socket = socket;
        resolve(socket);
      });
      socket.on("data", (chunk: Buffer) => {
        this.buffer = Buffer.concat([this.buffer, chunk]);
        this.parse();
      });
      const fail = (error: Error) => {
        this.buffer = Buffer.alloc(0);
        const waiting = this.waiting;
        this.waiting = null;
        waiting?.reject(error);
        reject(error);
      };
      socket.once("error", (error) => fail(error));
      socket.once("close", () => fail(new Error("ECONNRESET connection closed")));
    });
  }

  private parse(): void {
    const end = this.buffer.indexOf("\r\n\r\n");
    if (end < 0 || !this.waiting) return;
    const head = this.buffer.subarray(0, end).toString("latin1").split("\r\n");
    const status = Number(head[0]?.split(" ")[1]);
    const headers = new Map<string, string>();
    for (const line of head.slice(1)) {
      const colon = line.indexOf(":");
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    let body: Buffer;
    let consumed: number;
    if (headers.get("transfer-encoding")?.includes("chunked")) {
      const chunks: Buffer[] = [];
      let at = end + 4;
      for (;;) {
        const lineEnd = this.buffer.indexOf("\r\n", at);
        if (lineEnd < 0) return;
        const size = Number.parseInt(this.buffer.subarray(at, lineEnd).toString("latin1"), 16);
        if (this.buffer.length < lineEnd + 2 + size + 2) return;
        if (size === 0) {
          consumed = lineEnd + 4;
          break;
        }
        chunks.push(this.buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
      body = Buffer.concat(chunks);
    } else {
      const length = Number(headers.get("content-length") ?? 0);
      if (this.buffer.length < end + 4 + length) return;
      body = this.buffer.subarray(end + 4, end + 4 + length);
      consumed = end + 4 + length;
    }
    this.buffer = this.buffer.subarray(consumed);
    const waiting = this.waiting;
    this.waiting = null;
    waiting.resolve({ status, headers, body: body.toString("utf8") });
    if (headers.get("connection") === "close") this.close();
  }

  async request(method: string, path: string, headers: string[], body?: string): Promise<Response> {
    const socket = await this.open();
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      const lines = [
        `${method} ${path} HTTP/1.1`,
        "Host: 127.0.0.1",
        ...headers,
        ...(body === undefined ? [] : [`Content-Length: ${Buffer.byteLength(body)}`]),
        "",
        body ?? "",
      ];
      socket.write(lines.join("\r\n"));
    });
  }

  close(): void {
    this.socket?.destroy();
  }
}

/** Exponential back-off of the agent (connect-container/src/agent/backoff.ts, simplified). */
const backoffMs = (failures: number) => Math.min(60_000, 1000 * 2 ** Math.min(failures, 6));

function count(errors: Record<string, number>, error: unknown): void {
  const text = error instanceof Error ? error.message : String(error);
  const key = text.replace(/[0-9a-f-]{36}/g, "…").slice(0, 80);
  errors[key] = (errors[key] ?? 0) + 1;
}

function runGateways(job: GatewayJob): () => GatewayFigures {
  const started = performance.now();
  const figures: GatewayFigures = {
    heartbeatsMs: [],
    heartbeatsSentMs: [],
    commandsMs: [],
    commandsAt: [],
    firstBeatMs: [],
    errors: {},
    reconnects: 0,
    floodAtMs: null,
    recoveredBeatMs: [],
    floodErrors: {},
  };
  let stopped = false;
  // Per gateway: whether its heartbeat has been answered since the flood.
  const sinceFlood: { beat: boolean }[] = [];
  const errorsNow = () => (figures.floodAtMs === null ? figures.errors : figures.floodErrors);
  const recovered = (into: number[]) => {
    if (figures.floodAtMs !== null) into.push(performance.now() - started - figures.floodAtMs);
  };
  const connections: Connection[] = [];
  for (const gateway of job.gateways) {
    const auth = `Authorization: Bearer ${gateway.id}.${gateway.secret}`;
    const beats = new Connection(job.port, () => figures.reconnects++);
    const polls = new Connection(job.port, () => figures.reconnects++);
    connections.push(beats, polls);
    const flood = { beat: true };
    sinceFlood.push(flood);
    let first = true;
    let beatFailures = 0;
    const beat = async () => {
      if (stopped) return;
      const report: HeartbeatRequest = {
        state: "idle",
        gatewaySessionId: null,
        agentVersion: "0.1.0",
        openvpnVersion: null,
        localTime: new Date().toISOString(),
        lastError: null,
        settingsVersion: 0,
        sshHostKey: null,
        sshEvents: [],
        // What the real agent says it can do: the platform answers (and reads) accordingly.
        capabilities: CAPABILITIES,
        modbusEvidence: [],
      };
      const sent = performance.now();
      let delay = jittered(job.heartbeatMs);
      try {
        const answer = await beats.request(
          "POST",
          "/api/gateway/v1/heartbeat",
          [auth, "Content-Type: application/json"],
          JSON.stringify(report),
        );
        if (answer.status !== 200) {
          const retry = Number(answer.headers.get("retry-after") ?? Number.NaN);
          throw Object.assign(new Error(`heartbeat HTTP ${answer.status}`), {
            retryAfterMs: Number.isFinite(retry) ? retry * 1000 : null,
          });
        }
        figures.heartbeatsMs.push(performance.now() - sent);
        figures.heartbeatsSentMs.push(sent - started);
        if (first) figures.firstBeatMs.push(performance.now() - started);
        first = false;
        if (!flood.beat) recovered(figures.recoveredBeatMs);
        flood.beat = true;
        beatFailures = 0;
      } catch (error) {
        count(errorsNow(), error);
        delay = waitAfter(error, Math.min(job.heartbeatMs, backoffMs(beatFailures++)));
      }
      if (!stopped) setTimeout(beat, delay);
    };
    let cursor = 0;
    let pollFailures = 0;
    const poll = async () => {
      while (!stopped) {
        try {
          const answer = await polls.request(
            "GET",
            `/api/gateway/v1/commands?cursor=${cursor}&wait=25`,
            [auth],
          );
          if (answer.status !== 200) throw new Error(`commands HTTP ${answer.status}`);
          const received = Date.now();
          const parsed = JSON.parse(answer.body) as { cursor: number; commands: string[] };
          cursor = parsed.cursor;
          for (const token of parsed.commands) {
            // The platform's envelope (JWS): the bench's command names its enqueue time.
            const payload = JSON.parse(
              Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8"),
            ) as { body?: { reason?: string } };
            const enqueued = Number(payload.body?.reason?.match(/^bench (\d+)$/)?.[1]);
            if (Number.isFinite(enqueued)) {
              figures.commandsMs.push(received - enqueued);
              figures.commandsAt.push(enqueued);
            }
          }
          pollFailures = 0;
        } catch (error) {
          if (stopped) return;
          count(errorsNow(), error);
          await Bun.sleep(waitAfter(error, backoffMs(pollFailures++)));
        }
      }
    };
    setTimeout(beat, Math.random() * job.heartbeatMs);
    setTimeout(poll, Math.random() * job.heartbeatMs);
  }
  process.on("SIGUSR1", () => {
    figures.floodAtMs = performance.now() - started;
    for (const flood of sinceFlood) flood.beat = false;
    for (const c of connections) c.close();
  });
  return () => {
    stopped = true;
    for (const c of connections) c.close();
    return figures;
  };
}

function runPortal(job: PortalJob): () => PortalFigures {
  const figures: PortalFigures = { healthzMs: [], pageMs: [], errors: {} };
  const timed = async (path: string, into: number[], headers: Record<string, string> = {}) => {
    const sent = performance.now();
    try {
      const response = await fetch(`https://127.0.0.1:${job.port}${path}`, {
        headers,
        tls: { rejectUnauthorized: false },
        redirect: "manual",
      });
      await response.text();
      if (response.status !== 200) throw new Error(`${path} HTTP ${response.status}`);
      into.push(performance.now() - sent);
    } catch (error) {
      count(figures.errors, error);
    }
  };
  const timer = setInterval(() => {
    void timed("/healthz", figures.healthzMs);
    void timed(job.page, figures.pageMs, { cookie: job.cookie, "user-agent": "bench" });
  }, 500);
  return () => {
    clearInterval(timer);
    return figures;
  };
}

if (import.meta.main) {
  const job = JSON.parse(readFileSync(process.argv[2] ?? "", "utf8")) as GatewayJob | PortalJob;
  const finish = job.role === "gateways" ? runGateways(job) : runPortal(job);
  process.on("SIGTERM", () => {
    const figures = finish();
    process.stdout.write(`${JSON.stringify(figures)}\n`, () => process.exit(0));
  });
}
