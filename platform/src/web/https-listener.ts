// The platform's HTTPS listener. Its certificate is swapped without a restart: a second listener
// on the same port (SO_REUSEPORT) takes every new connection at once, and the old one closes when
// its requests (a gateway's long-poll, up to 25 s) are done — no connection is refused meanwhile.
import { TLS_SERVER_POLICY } from "@meetpoint/common";
import type { Server } from "bun";

export interface HttpsOptions {
  port: number;
  hostname: string;
  fetch: (request: Request, server: Server<undefined>) => Response | Promise<Response>;
  /** Seconds a connection may idle; gateways long-poll for up to 25 s. */
  idleTimeout: number;
}

export class HttpsListener {
  private server: Server<undefined>;

  constructor(
    private readonly options: HttpsOptions,
    tls: { cert: string; key: string },
    private readonly log: (line: string) => void = console.error,
  ) {
    this.server = this.serve(tls, options.port);
  }

  get port(): number {
    return this.server.port ?? this.options.port;
  }

  /** Serves `tls` from now on; the previous listener finishes its requests, then closes. */
  swap(tls: { cert: string; key: string }): void {
    const previous = this.server;
    this.server = this.serve(tls, this.port);
    previous.stop().catch((error) => this.log(`closing the previous HTTPS listener: ${error}`));
  }

  stop(): void {
    void this.server.stop(true);
  }

  private serve(tls: { cert: string; key: string }, port: number): Server<undefined> {
    return Bun.serve({
      port,
      hostname: this.options.hostname,
      reusePort: true,
      // TLS 1.3, and TLS 1.2 with ECDHE + AEAD suites only (common/src/tls/policy.ts).
      tls: { ...tls, ...TLS_SERVER_POLICY },
      idleTimeout: this.options.idleTimeout,
      fetch: this.options.fetch,
    });
  }
}
