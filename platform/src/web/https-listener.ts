// The platform's HTTPS listener. Its certificate is swapped without a restart: a second listener
// on the same port (SO_REUSEPORT) takes every new connection at once, and the old one closes when
// its requests (a gateway's long-poll, up to 25 s) are done. Bun cannot change a running
// listener's certificate (server.reload ignores tls). Connections the kernel had already queued
// for the old listener when it closes are handed to the new one only with net.ipv4.tcp_migrate_req
// = 1 (Linux ≥ 5.14, Documentation/networking/ip-sysctl.rst); with 0 they are reset, which a busy
// CPU makes likely. The listener says so once at start.
import { readFileSync } from "node:fs";
import { TLS_SERVER_POLICY } from "@meetpoint/common";
import type { Server, WebSocketHandler } from "bun";

export interface HttpsOptions {
  port: number;
  hostname: string;
  fetch: (request: Request, server: Server<unknown>) => Response | Promise<Response>;
  /** WebSocket handlers for requests the app upgrades (the workspace relay); absent: none. */
  // biome-ignore lint/suspicious/noExplicitAny: each upgrade carries its handler's own data
  websocket?: WebSocketHandler<any>;
  /** Seconds a connection may idle; gateways long-poll for up to 25 s. */
  idleTimeout: number;
}

export class HttpsListener {
  private server: Server<unknown>;
  private served: string;

  constructor(
    private readonly options: HttpsOptions,
    tls: { cert: string; key: string },
    private readonly log: (line: string) => void = console.error,
  ) {
    this.server = this.serve(tls, options.port);
    this.served = tls.cert;
    if (queuedConnectionsMigrate() === false)
      this.log(
        "net.ipv4.tcp_migrate_req is 0: a connection queued at a certificate swap is reset instead of handed to the new listener; set it to 1 (sysctl -w net.ipv4.tcp_migrate_req=1, or sysctls in compose.yaml)",
      );
  }

  get port(): number {
    return this.server.port ?? this.options.port;
  }

  /**
   * The certificates served to new connections (leaf first, then its issuers), as PEM blocks only:
   * a combined certificate-and-key file never hands its key on.
   */
  get certificate(): string {
    return (
      this.served.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
    ).join("\n");
  }

  /** Serves `tls` from now on; the previous listener finishes its requests, then closes. */
  swap(tls: { cert: string; key: string }): void {
    const previous = this.server;
    this.server = this.serve(tls, this.port);
    this.served = tls.cert;
    previous.stop().catch((error) => this.log(`closing the previous HTTPS listener: ${error}`));
  }

  stop(): void {
    void this.server.stop(true);
  }

  private serve(tls: { cert: string; key: string }, port: number): Server<unknown> {
    return Bun.serve({
      port,
      hostname: this.options.hostname,
      reusePort: true,
      // TLS 1.3, and TLS 1.2 with ECDHE + AEAD suites only (common/src/tls/policy.ts).
      tls: { ...tls, ...TLS_SERVER_POLICY },
      idleTimeout: this.options.idleTimeout,
      fetch: this.options.fetch,
      // Without a handler nothing is upgraded (only the app calls server.upgrade).
      websocket: this.options.websocket ?? { message() {} },
    });
  }
}

/**
 * Whether the kernel migrates a closing SO_REUSEPORT listener's queued connections to a sibling
 * (net.ipv4.tcp_migrate_req = 1, per network namespace); null where the setting does not exist.
 */
export function queuedConnectionsMigrate(): boolean | null {
  try {
    return readFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "utf8").trim() === "1";
  } catch {
    return null;
  }
}
