// The read-only Modbus/TCP filter's sockets: one listener per filtered service (the firewall
// redirects the service's traffic from the tunnel to it); each connection a technician opens is
// relayed to the machine through filterRequests — reads go on, refusals are answered here — and
// closed when its remote session ends.
import { connect, createServer, type Server, type Socket } from "node:net";
import { filterRequests } from "./filter.ts";

/** What happened on a filtered connection, for the session's evidence. */
export type RelayEvent =
  | { kind: "pass" | "refuse"; functionCode: string }
  | { kind: "close"; reason: string };

export interface ModbusListenerOptions {
  /** Where the listener binds; "0.0.0.0" by default (a foreign source is closed at once). */
  host?: string;
  /** The machine's LAN address and port the reads go to. */
  upstream: { host: string; port: number };
  /** The remote session a connection from `address` belongs to; null: close it at once. */
  sessionOf: (address: string) => string | null;
  /** Counts one request or close of a session's connection. */
  record: (sessionId: string, event: RelayEvent) => void;
  /** Milliseconds to reach the machine before the technician's connection is closed; 5000. */
  connectTimeoutMs?: number;
}

interface Relayed {
  sessionId: string;
  client: Socket;
  machine: Socket;
}

/** The technician's IPv4 address as written in the session ("::ffff:" of dual-stack sockets cut). */
const plainAddress = (address: string | undefined) => (address ?? "").replace(/^::ffff:/, "");

/** One filtered service's listener and its relayed connections. */
export class ModbusListener {
  private readonly connections = new Set<Relayed>();
  private readonly server: Server;
  /** The TCP port the listener got (the firewall redirects to it); 0 until it listens. */
  port = 0;

  private constructor(options: ModbusListenerOptions) {
    this.server = createServer({ noDelay: true }, (client) =>
      relay(client, options, this.connections),
    );
  }

  /** Listens on an ephemeral port; rejects when it cannot listen. */
  static async start(options: ModbusListenerOptions): Promise<ModbusListener> {
    const listener = new ModbusListener(options);
    const { server } = listener;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, options.host ?? "0.0.0.0", () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address();
    listener.port = typeof address === "object" && address ? address.port : 0;
    return listener;
  }

  /** How many connections are relayed now. */
  get open(): number {
    return this.connections.size;
  }

  /** Closes the connections of remote sessions not in `keep` at once (both sides). */
  closeSessionsBut(keep: Set<string>): number {
    let closed = 0;
    for (const c of this.connections) {
      if (keep.has(c.sessionId)) continue;
      end(c);
      this.connections.delete(c);
      closed++;
    }
    return closed;
  }

  /** Stops listening and closes every connection. */
  stop(): void {
    this.closeSessionsBut(new Set());
    this.server.close();
  }
}

function end(c: Relayed): void {
  c.client.destroy();
  c.machine.destroy();
}

function relay(client: Socket, options: ModbusListenerOptions, connections: Set<Relayed>): void {
  const sessionId = options.sessionOf(plainAddress(client.remoteAddress));
  if (sessionId === null) {
    client.destroy();
    return;
  }
  client.setNoDelay(true);
  const machine = connect({ ...options.upstream, noDelay: true });
  const relayed: Relayed = { sessionId, client, machine };
  connections.add(relayed);
  const close = () => {
    connections.delete(relayed);
    end(relayed);
  };
  const timer = setTimeout(close, options.connectTimeoutMs ?? 5000);
  machine.once("connect", () => clearTimeout(timer));
  // Back-pressure: a side whose send buffer is full stops the reading that fills it — the machine's
  // answers, and the technician's requests (which fill both: reads towards the machine, refusals
  // back), so a peer that never reads cannot make the agent buffer without bound.
  const full = { machine: false, client: false };
  const flow = () => {
    if (full.machine || full.client) client.pause();
    else client.resume();
    if (full.client) machine.pause();
    else machine.resume();
  };
  let buffered: Uint8Array = new Uint8Array(0);
  client.on("data", (chunk: Buffer) => {
    const input = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    const { verdicts, rest, close: reason } = filterRequests(input);
    buffered = rest;
    for (const verdict of verdicts) {
      options.record(sessionId, { kind: verdict.kind, functionCode: verdict.functionCode });
      if (verdict.kind === "pass") full.machine = !machine.write(verdict.frame) || full.machine;
      else full.client = !client.write(verdict.reply) || full.client;
    }
    flow();
    if (reason !== null) {
      options.record(sessionId, { kind: "close", reason });
      close();
    }
  });
  machine.on("data", (chunk: Buffer) => {
    full.client = !client.write(chunk) || full.client;
    flow();
  });
  client.on("drain", () => {
    full.client = false;
    flow();
  });
  machine.on("drain", () => {
    full.machine = false;
    flow();
  });
  for (const socket of [client, machine]) {
    socket.on("error", close);
    socket.on("close", close);
  }
}
