// The gateway API sheds load before it falls behind: at most `limit` requests are in progress at
// once (the command long-poll, which mostly waits, is not counted); one more is answered at once
// with 429 and a Retry-After of 5–14 s (RFC 6585 §4, RFC 9110 §10.2.3), spread so the refused
// gateways do not return together. The agent waits at least that long. A gateway refused now and
// then stays online: it is only counted offline after minutes without a heartbeat.
import type { MiddlewareHandler } from "hono";

/** Requests in progress before the gateway API refuses more, by default. */
export const GATEWAY_API_LIMIT = 256;

export class LoadShedder {
  private inFlight = 0;
  private lastLogged = 0;
  /** Requests refused since the start. */
  shed = 0;

  constructor(
    readonly limit: number = GATEWAY_API_LIMIT,
    private readonly log: (line: string) => void = console.error,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {}

  /** Hono middleware for the gateway API; `exempt` paths (the long-poll) pass uncounted. */
  middleware(exempt: (path: string) => boolean): MiddlewareHandler {
    return async (c, next) => {
      if (exempt(c.req.path)) return next();
      if (this.inFlight >= this.limit) {
        this.shed++;
        if (this.now() - this.lastLogged >= 60_000) {
          this.lastLogged = this.now();
          this.log(
            `Gateway API: ${this.limit} requests in progress, refusing more with 429 (${this.shed} so far); the gateways retry after a few seconds.`,
          );
        }
        const wait = 5 + Math.floor(this.random() * 10);
        c.header("Retry-After", String(wait));
        return c.json(
          { error: { status: 429, message: `the platform is busy: try again in ${wait} s` } },
          429,
        );
      }
      this.inFlight++;
      try {
        await next();
      } finally {
        this.inFlight--;
      }
    };
  }

  /** Requests in progress now. */
  get inProgress(): number {
    return this.inFlight;
  }
}
