// OpenVPN's management interface: a parser for what OpenVPN says (pure) and a client that talks to
// one process over its Unix socket. The platform drives servers (with --management-client-auth every
// connection waits for client-auth or client-deny); the gateway watches its client's state.
import type { Socket } from "bun";

export type ClientEnv = Record<string, string>;

export type ManagementEvent =
  | { type: "connect" | "reauth"; cid: number; kid: number; env: ClientEnv }
  | { type: "established" | "disconnect"; cid: number; env: ClientEnv }
  | { type: "bytecount"; cid: number; bytesIn: number; bytesOut: number }
  | { type: "hold" }
  /** A client's state change (`state on`): CONNECTING, WAIT, AUTH, GET_CONFIG, CONNECTED, RECONNECTING, EXITING … */
  | { type: "state"; name: string; detail: string; localAddress: string }
  | { type: "fatal"; text: string }
  | { type: "response"; ok: boolean; text: string };

/** Turns the server's lines into events; CLIENT notifications arrive with their ENV block. */
export class ManagementParser {
  private buffer = "";
  private pending: {
    type: "connect" | "reauth" | "established" | "disconnect";
    cid: number;
    kid: number;
    env: ClientEnv;
  } | null = null;

  /** Feeds raw text; returns the events completed by it. */
  push(chunk: string): ManagementEvent[] {
    this.buffer += chunk;
    const events: ManagementEvent[] = [];
    let newline = this.buffer.indexOf("\n");
    while (newline >= 0) {
      const line = this.buffer.slice(0, newline).replace(/\r$/, "");
      this.buffer = this.buffer.slice(newline + 1);
      const event = this.line(line);
      if (event) events.push(event);
      newline = this.buffer.indexOf("\n");
    }
    return events;
  }

  private line(line: string): ManagementEvent | null {
    if (this.pending && line.startsWith(">CLIENT:ENV,")) {
      const pair = line.slice(">CLIENT:ENV,".length);
      if (pair === "END") {
        const { type, cid, kid, env } = this.pending;
        this.pending = null;
        return type === "connect" || type === "reauth"
          ? { type, cid, kid, env }
          : { type, cid, env };
      }
      const equals = pair.indexOf("=");
      if (equals > 0) this.pending.env[pair.slice(0, equals)] = pair.slice(equals + 1);
      return null;
    }
    const client = line.match(/^>CLIENT:(CONNECT|REAUTH|ESTABLISHED|DISCONNECT),(\d+)(?:,(\d+))?/);
    if (client) {
      const type = (client[1] ?? "").toLowerCase() as
        | "connect"
        | "reauth"
        | "established"
        | "disconnect";
      this.pending = { type, cid: Number(client[2]), kid: Number(client[3] ?? 0), env: {} };
      return null;
    }
    const bytes = line.match(/^>BYTECOUNT_CLI:(\d+),(\d+),(\d+)/);
    if (bytes)
      return {
        type: "bytecount",
        cid: Number(bytes[1]),
        bytesIn: Number(bytes[2]),
        bytesOut: Number(bytes[3]),
      };
    if (line.startsWith(">HOLD:")) return { type: "hold" };
    // >STATE:unix-time,name,detail,local-tunnel-ip,remote-ip,…
    const state = line.match(/^>STATE:\d+,([A-Z_]+),([^,]*),([^,]*)/);
    if (state)
      return {
        type: "state",
        name: state[1] ?? "",
        detail: state[2] ?? "",
        localAddress: state[3] ?? "",
      };
    if (line.startsWith(">FATAL:")) return { type: "fatal", text: line.slice(7).trim() };
    if (line.startsWith("SUCCESS:"))
      return { type: "response", ok: true, text: line.slice(8).trim() };
    if (line.startsWith("ERROR:"))
      return { type: "response", ok: false, text: line.slice(6).trim() };
    return null;
  }
}

/** A reason as client-deny accepts it: one line, no quotes or backslashes. */
export function quoteReason(reason: string): string {
  return `"${reason.replace(/["\\\r\n]/g, " ").slice(0, 200)}"`;
}

/** Per-client configuration lines must not contain anything but the directive and its values. */
function checkConfigLine(line: string): string {
  if (!/^[a-z-]+( [A-Za-z0-9.:/ "-]+)?$/.test(line))
    throw new Error(`refusing client config line ${JSON.stringify(line)}`);
  return line;
}

/** A command's answer: OpenVPN's SUCCESS (ok) or ERROR line, or why there was none. */
export interface ManagementResponse {
  ok: boolean;
  text: string;
}

interface Waiter {
  resolve: (response: ManagementResponse) => void;
  /** Answered already (timed out, or the connection closed): a late answer is dropped. */
  settled: boolean;
}

/** How long a command waits for its answer, in milliseconds, unless told otherwise. */
export const MANAGEMENT_TIMEOUT_MS = 5000;

/** Talks to one OpenVPN server over its management socket. */
export class ManagementClient {
  private parser = new ManagementParser();
  private waiting: Waiter[] = [];
  private socket: Socket<undefined> | null = null;
  private closedHandlers: (() => void)[] = [];

  /**
   * @param onEvent every notification (CLIENT, BYTECOUNT, STATE …) as it arrives
   * @param log where socket errors are reported (they also close the connection)
   */
  constructor(
    private readonly onEvent: (event: ManagementEvent) => void,
    private readonly log: (line: string) => void = console.error,
  ) {}

  /** Connects to the socket at `path`; resolves when connected, rejects when it cannot. */
  async connect(path: string): Promise<void> {
    this.socket = await Bun.connect({
      unix: path,
      socket: {
        data: (_socket, data) => {
          for (const event of this.parser.push(data.toString())) {
            if (event.type !== "response") this.onEvent(event);
            else {
              // Answers come in the order of the commands; one that timed out keeps its place.
              const waiter = this.waiting.shift();
              if (waiter && !waiter.settled) {
                waiter.settled = true;
                waiter.resolve({ ok: event.ok, text: event.text });
              }
            }
          }
        },
        close: () => this.closed("management connection closed"),
        error: (socket, error) => {
          this.log(`OpenVPN management socket ${path}: ${error.message}`);
          socket.end();
          this.closed(`management connection failed: ${error.message}`);
        },
      },
    });
  }

  private closed(why: string): void {
    if (!this.socket) return;
    this.socket = null;
    for (const waiter of this.waiting.splice(0)) {
      if (waiter.settled) continue;
      waiter.settled = true;
      waiter.resolve({ ok: false, text: why });
    }
    for (const handler of this.closedHandlers) handler();
  }

  onClose(handler: () => void): void {
    this.closedHandlers.push(handler);
  }

  get connected(): boolean {
    return this.socket !== null;
  }

  /**
   * Sends a command and waits for its SUCCESS or ERROR line — at most `timeoutMs` (default 5 s);
   * without an answer by then it resolves `{ ok: false }` saying so. Never rejects.
   */
  command(text: string, timeoutMs = MANAGEMENT_TIMEOUT_MS): Promise<ManagementResponse> {
    const socket = this.socket;
    if (!socket) return Promise.resolve({ ok: false, text: "not connected" });
    return new Promise((resolve) => {
      const waiter: Waiter = { resolve, settled: false };
      const timer = setTimeout(() => {
        if (waiter.settled) return;
        waiter.settled = true;
        resolve({ ok: false, text: `no answer to "${text.split(" ")[0]}" within ${timeoutMs} ms` });
      }, timeoutMs);
      waiter.resolve = (response) => {
        clearTimeout(timer);
        resolve(response);
      };
      this.waiting.push(waiter);
      socket.write(`${text}\n`);
    });
  }

  holdRelease() {
    return this.command("hold release");
  }

  /** Asks for BYTECOUNT_CLI notifications every `seconds`. */
  bytecount(seconds: number) {
    return this.command(`bytecount ${Math.max(0, Math.floor(seconds))}`);
  }

  /** Lets a client in, with its per-client configuration (ifconfig-push, iroute, push …). */
  allow(cid: number, kid: number, config: string[]) {
    return this.command(
      `client-auth ${cid} ${kid}\n${config.map(checkConfigLine).join("\n")}${config.length ? "\n" : ""}END`,
    );
  }

  deny(cid: number, kid: number, reason: string) {
    return this.command(`client-deny ${cid} ${kid} ${quoteReason(reason)}`);
  }

  kill(cid: number) {
    return this.command(`client-kill ${cid}`);
  }

  close(): void {
    this.socket?.end();
    this.socket = null;
  }
}
