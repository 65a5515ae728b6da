// Connections to a syslog collector: TLS (RFC 5425) or TCP (RFC 6587) with octet-counting frames,
// or UDP (RFC 5426, one message per datagram, best effort). Nothing here retries: the forwarder
// decides what to send again.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { isIP, connect as netConnect, type Socket } from "node:net";
import { checkServerIdentity, connect as tlsConnect } from "node:tls";
import type { DestinationConfig, Endpoint } from "./destinations.ts";

/**
 * How a connection ended: cleanly (the collector closed; `at`, performance.now() when its FIN
 * arrived — it read what reached it before, but not what reached it after) or with an error.
 */
export type Ending = { clean: true; at: number } | { clean: false; error: string };

export interface SyslogConnection {
  /** Hands `data` to the kernel; rejects when the connection is broken. */
  write(data: Buffer): Promise<void>;
  /** Null while open; how it ended once it did. */
  readonly ended: Ending | null;
  /** Whether messages are separate datagrams (UDP) rather than a framed stream. */
  readonly datagrams: boolean;
  close(): void;
}

/** Largest UDP message sent (RFC 5426 §3.2 asks receivers for at least 2048 octets). */
export const UDP_MAX_BYTES = 8192;

export interface ConnectOptions {
  /** Give up connecting after this many milliseconds; default 5000. */
  timeoutMs?: number;
}

/** Opens a connection to the destination; rejects with the reason when it cannot. */
export function openConnection(
  endpoint: Endpoint,
  destination: Pick<DestinationConfig, "ca" | "cert" | "key" | "serverName">,
  options: ConnectOptions = {},
): Promise<SyslogConnection> {
  if (endpoint.transport === "udp") return openUdp(endpoint);
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    let socket: Socket;
    const name = destination.serverName ?? endpoint.host;
    const readyEvent = endpoint.transport === "tls" ? "secureConnect" : "connect";
    try {
      socket =
        endpoint.transport === "tls"
          ? tlsConnect({
              host: endpoint.host,
              port: endpoint.port,
              // SNI carries names only; the certificate is checked against the name or address.
              servername: isIP(name) ? undefined : name,
              checkServerIdentity: (_host, certificate) => checkServerIdentity(name, certificate),
              ca: destination.ca ? readFileSync(destination.ca, "utf8") : undefined,
              cert: destination.cert ? readFileSync(destination.cert, "utf8") : undefined,
              key: destination.key ? readFileSync(destination.key, "utf8") : undefined,
              minVersion: "TLSv1.2",
              rejectUnauthorized: true,
            })
          : netConnect({ host: endpoint.host, port: endpoint.port });
    } catch (error) {
      reject(error);
      return;
    }
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    const failed = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.once("error", failed);
    socket.once(readyEvent, () => {
      clearTimeout(timer);
      socket.off("error", failed);
      resolve(new StreamConnection(socket));
    });
  });
}

class StreamConnection implements SyslogConnection {
  ended: Ending | null = null;
  readonly datagrams = false;
  private error: string | null = null;
  private finAt: number | null = null;

  constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    // Collectors send nothing; reading keeps the FIN (and a TLS close_notify) noticed.
    socket.on("data", () => {});
    socket.on("error", (error) => {
      this.error ??= error.message;
    });
    // The collector closed its side: end ours, and see on close whether a reset followed.
    socket.on("end", () => {
      this.finAt = performance.now();
      socket.end();
    });
    socket.on("close", (hadError) => {
      this.ended =
        hadError || this.error
          ? { clean: false, error: this.error ?? "connection reset" }
          : { clean: true, at: this.finAt ?? performance.now() };
    });
  }

  write(data: Buffer): Promise<void> {
    if (this.ended || this.socket.destroyed || !this.socket.writable)
      return Promise.reject(new Error(this.error ?? "connection closed"));
    return new Promise((resolve, reject) => {
      this.socket.write(data, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

function openUdp(endpoint: Endpoint): Promise<SyslogConnection> {
  return new Promise((resolve, reject) => {
    const socket: UdpSocket = createSocket(endpoint.host.includes(":") ? "udp6" : "udp4");
    socket.once("error", reject);
    socket.connect(endpoint.port, endpoint.host, () => {
      socket.off("error", reject);
      let ended: Ending | null = null;
      socket.on("error", (error) => {
        ended = { clean: false, error: error.message };
      });
      resolve({
        datagrams: true,
        get ended() {
          return ended;
        },
        write: (data) =>
          new Promise((ok, fail) => socket.send(data, (error) => (error ? fail(error) : ok()))),
        close: () => socket.close(),
      });
    });
  });
}
