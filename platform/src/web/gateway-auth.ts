// Failed authentications at the gateway API: throttled per source (429 with Retry-After once a
// source has used its allowance in an interval), and audited in aggregate — one entry per source
// per interval with the count, plus one for the sources beyond those tracked — so neither the
// guessing nor the append-only audit log can grow without bound. A small fixed-window counter of
// our own rather than a rate-limit library: it must run on the injected clock, and its windows
// are also the audit's intervals.
import { recordAuditAlone } from "../audit/index.ts";
import type { Db } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";

export interface GatewayAuthPolicy {
  /** Length of a source's interval, in milliseconds (default 60 000). */
  intervalMs: number;
  /** Failed authentications a source may have in one interval; after them, 429 (default 20). */
  allowedFailures: number;
  /** Sources tracked one by one at a time; failures of others are counted together (default 1000). */
  maxSources: number;
}

export const DEFAULT_GATEWAY_AUTH_POLICY: GatewayAuthPolicy = {
  intervalMs: 60_000,
  allowedFailures: 20,
  maxSources: 1000,
};

/** What one interval of one source comes to; `source` null for the sources beyond those tracked. */
export interface FailureSummary {
  source: string | null;
  from: Date;
  to: Date;
  /** Requests refused for a wrong or missing secret (401). */
  failures: number;
  /** Requests refused without a check because the source had used its allowance (429). */
  throttled: number;
  /** Gateway ids the requests named (the first 10), and how many requests named others. */
  gatewayIds: string[];
  moreGatewayIds: number;
}

interface Window {
  from: number;
  failures: number;
  throttled: number;
  gatewayIds: Set<string>;
  moreGatewayIds: number;
}

const MAX_IDS = 10;

/**
 * The key a client address is counted under: IPv4 as it is (IPv4-mapped IPv6 too), IPv6 by its
 * /64 (one subscriber's prefix: RFC 6177 assigns at least that much to a site).
 */
export function sourceOf(ip: string): string {
  const mapped = ip.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i);
  if (mapped?.[1]) return mapped[1];
  if (!ip.includes(":")) return ip;
  const [head = "", tail = ""] = ip.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = ip.includes("::")
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

/** The windows of the sources, on the injected clock (pure bookkeeping, no I/O). */
export class FailureWindows {
  private windows = new Map<string, Window>();
  private overflow: Window | null = null;
  /** Summaries of windows replaced before closed() collected them. */
  private pending: FailureSummary[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly policy: GatewayAuthPolicy = DEFAULT_GATEWAY_AUTH_POLICY,
  ) {}

  private open(now: number): Window {
    return { from: now, failures: 0, throttled: 0, gatewayIds: new Set(), moreGatewayIds: 0 };
  }

  private current(source: string, now: number): Window | undefined {
    const window = this.windows.get(source);
    return window && now < window.from + this.policy.intervalMs ? window : undefined;
  }

  /**
   * Seconds `ip` must wait before its next try, or 0 when it may try now. A refusal is counted
   * in the source's interval.
   */
  waitFor(ip: string): number {
    const now = this.clock.now().getTime();
    const window = this.current(sourceOf(ip), now);
    if (!window || window.failures < this.policy.allowedFailures) return 0;
    window.throttled++;
    return Math.max(1, Math.ceil((window.from + this.policy.intervalMs - now) / 1000));
  }

  /** Counts a failed authentication of `ip` naming `gatewayId` (null when it named none). */
  failed(ip: string, gatewayId: string | null): void {
    const now = this.clock.now().getTime();
    const source = sourceOf(ip);
    let window = this.current(source, now);
    if (!window && !this.windows.has(source) && this.windows.size >= this.policy.maxSources) {
      this.overflow ??= this.open(now);
      window = this.overflow;
    } else if (!window) {
      // A source whose interval ended keeps its old window until it is summed up: start anew.
      this.pending.push(...this.take(source));
      window = this.open(now);
      this.windows.set(source, window);
    }
    window.failures++;
    if (gatewayId === null) return;
    if (window.gatewayIds.size < MAX_IDS || window.gatewayIds.has(gatewayId))
      window.gatewayIds.add(gatewayId);
    else window.moreGatewayIds++;
  }

  private summary(source: string | null, window: Window): FailureSummary {
    return {
      source,
      from: new Date(window.from),
      to: new Date(window.from + this.policy.intervalMs),
      failures: window.failures,
      throttled: window.throttled,
      gatewayIds: [...window.gatewayIds],
      moreGatewayIds: window.moreGatewayIds,
    };
  }

  private take(source: string): FailureSummary[] {
    const window = this.windows.get(source);
    if (!window) return [];
    this.windows.delete(source);
    return [this.summary(source, window)];
  }

  /** Removes and returns the summaries of intervals that have ended; every one with `all`. */
  closed(all = false): FailureSummary[] {
    const now = this.clock.now().getTime();
    const done = this.pending;
    this.pending = [];
    for (const [source, window] of this.windows)
      if (all || now >= window.from + this.policy.intervalMs) done.push(...this.take(source));
    if (this.overflow && (all || now >= this.overflow.from + this.policy.intervalMs)) {
      done.push(this.summary(null, this.overflow));
      this.overflow = null;
    }
    return done;
  }
}

/** The guard the gateway API consults: FailureWindows plus the audit entries they come to. */
export class GatewayAuthGuard {
  readonly windows: FailureWindows;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    policy: GatewayAuthPolicy = DEFAULT_GATEWAY_AUTH_POLICY,
  ) {
    this.windows = new FailureWindows(clock, policy);
  }

  /**
   * Writes one `gateway_api.auth` entry per ended interval of a source (every interval with
   * `all`, at shutdown). Returns how many were written. Call it every few seconds.
   */
  async flush(options: { all?: boolean } = {}): Promise<number> {
    const summaries = this.windows.closed(options.all);
    for (const s of summaries)
      await recordAuditAlone(this.db, this.clock, {
        actor: {
          id: null,
          name: s.source ? `gateway API client ${s.source}` : "gateway API clients (untracked)",
          ip: s.source,
        },
        action: "gateway_api.auth",
        result: "denied",
        detail: {
          failures: s.failures,
          throttled: s.throttled,
          from: s.from.toISOString(),
          to: s.to.toISOString(),
          gatewayIds: s.gatewayIds,
          moreGatewayIds: s.moreGatewayIds,
        },
      });
    return summaries.length;
  }
}
