// Failed authentications from anyone, anonymous or not (sign-in, admin API, gateway API):
// throttled per source (429 with Retry-After once a source has used its allowance in an
// interval), and what is not audited one by one is audited in aggregate — one entry per source
// per interval with the counts, plus one for the sources beyond those tracked — so neither the
// guessing nor the append-only audit log can grow without bound. A small fixed-window counter of
// our own rather than a rate-limit library: it must run on the injected clock, and its windows
// are also the audit's intervals.
import type { Db } from "../db/index.ts";
import { type Clock, sourceOf } from "../shared/index.ts";
import type { AuditAction } from "./actions.ts";
import { recordAuditAlone } from "./log.ts";

export interface FailurePolicy {
  /** Length of a source's interval, in milliseconds (default 60 000). */
  intervalMs: number;
  /** Failed attempts a source may have in one interval; after them, 429 (default 20). */
  allowedFailures: number;
  /** Sources tracked one by one at a time; failures of others are counted together (default 1000). */
  maxSources: number;
}

export const DEFAULT_FAILURE_POLICY: FailurePolicy = {
  intervalMs: 60_000,
  allowedFailures: 20,
  maxSources: 1000,
};

/** What one interval of one source comes to; `source` null for the sources beyond those tracked. */
export interface FailureSummary {
  source: string | null;
  from: Date;
  to: Date;
  /** Failures audited only here (not one by one): unknown names, missing or wrong secrets. */
  failures: number;
  /** Requests refused without a check because the source had used its allowance (429). */
  throttled: number;
  /** What the unaudited failures named (the first 10), and how many named others. */
  names: string[];
  moreNames: number;
}

interface Window {
  from: number;
  /** Attempts counted against the allowance (taken back when they succeed). */
  counted: number;
  unaudited: number;
  throttled: number;
  names: Set<string>;
  moreNames: number;
}

const MAX_NAMES = 10;

/** The windows of the sources, on the injected clock (pure bookkeeping, no I/O). */
export class FailureWindows {
  private windows = new Map<string, Window>();
  private overflow: Window | null = null;
  /** Summaries of windows replaced before closed() collected them. */
  private pending: FailureSummary[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly policy: FailurePolicy = DEFAULT_FAILURE_POLICY,
  ) {}

  private open(now: number): Window {
    return { from: now, counted: 0, unaudited: 0, throttled: 0, names: new Set(), moreNames: 0 };
  }

  private current(source: string, now: number): Window | undefined {
    const window = this.windows.get(source);
    return window && now < window.from + this.policy.intervalMs ? window : undefined;
  }

  /** The window `ip` counts in now, opened when needed (the shared one beyond maxSources). */
  private windowOf(ip: string): Window {
    const now = this.clock.now().getTime();
    const source = sourceOf(ip);
    const window = this.current(source, now);
    if (window) return window;
    if (!this.windows.has(source) && this.windows.size >= this.policy.maxSources) {
      if (this.overflow && now >= this.overflow.from + this.policy.intervalMs) {
        this.pending.push(this.summary(null, this.overflow));
        this.overflow = null;
      }
      this.overflow ??= this.open(now);
      return this.overflow;
    }
    // A source whose interval ended keeps its old window until it is summed up: start anew.
    this.pending.push(...this.take(source));
    const opened = this.open(now);
    this.windows.set(source, opened);
    return opened;
  }

  /**
   * Seconds `ip` must wait before its next try (counted as throttled), or 0 when it may try now
   * (only looks; count the try with attempt() or failed()).
   */
  waitFor(ip: string): number {
    const now = this.clock.now().getTime();
    const window = this.current(sourceOf(ip), now);
    if (!window || window.counted < this.policy.allowedFailures) return 0;
    window.throttled++;
    return Math.max(1, Math.ceil((window.from + this.policy.intervalMs - now) / 1000));
  }

  /**
   * An attempt from `ip` that may fail: refused with the seconds to wait (counted as
   * throttled) once the source has used its allowance, otherwise counted as a failure before it
   * is checked — so parallel attempts cannot outrun the allowance — and 0 returned. An attempt
   * that succeeds is taken back with takeBack().
   */
  attempt(ip: string): number {
    const wait = this.waitFor(ip);
    if (wait > 0) return wait;
    this.windowOf(ip).counted++;
    return 0;
  }

  /** A counted attempt of `ip` succeeded: it no longer uses the allowance. */
  takeBack(ip: string): void {
    const window = this.current(sourceOf(ip), this.clock.now().getTime());
    if (window && window.counted > 0) window.counted--;
  }

  /**
   * A counted attempt of `ip` failed and is audited only in aggregate, with what it named (a
   * username, a gateway id; null for nothing).
   */
  unaudited(ip: string, name: string | null): void {
    const window = this.windowOf(ip);
    window.unaudited++;
    if (name === null) return;
    if (window.names.size < MAX_NAMES || window.names.has(name)) window.names.add(name);
    else window.moreNames++;
  }

  /** attempt() and unaudited() in one: a failure already known, counted and audited in aggregate. */
  failed(ip: string, name: string | null): void {
    this.windowOf(ip).counted++;
    this.unaudited(ip, name);
  }

  private summary(source: string | null, window: Window): FailureSummary {
    return {
      source,
      from: new Date(window.from),
      to: new Date(window.from + this.policy.intervalMs),
      failures: window.unaudited,
      throttled: window.throttled,
      names: [...window.names],
      moreNames: window.moreNames,
    };
  }

  private take(source: string): FailureSummary[] {
    const window = this.windows.get(source);
    if (!window) return [];
    this.windows.delete(source);
    return [this.summary(source, window)];
  }

  /**
   * Removes and returns the summaries of intervals that have ended (every one with `all`) that
   * hold something not audited one by one.
   */
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
    return done.filter((s) => s.failures > 0 || s.throttled > 0);
  }
}

/** How a guard's aggregated entries read. */
export interface FailureAudit {
  action: AuditAction;
  /** The actor's name for a source ("gateway API client"), followed by the source. */
  who: string;
  /** The detail's keys for the names and the count of others ("gatewayIds", "moreGatewayIds"). */
  namesKey: string;
  moreNamesKey: string;
}

/** FailureWindows plus the audit entries they come to. */
export class FailureGuard {
  readonly windows: FailureWindows;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly audit: FailureAudit,
    policy: FailurePolicy = DEFAULT_FAILURE_POLICY,
  ) {
    this.windows = new FailureWindows(clock, policy);
  }

  /**
   * Writes one entry per ended interval of a source that holds unaudited failures or throttled
   * requests (every interval with `all`, at shutdown). Returns how many were written. Call it
   * every few seconds.
   */
  async flush(options: { all?: boolean } = {}): Promise<number> {
    const summaries = this.windows.closed(options.all);
    for (const s of summaries)
      await recordAuditAlone(this.db, this.clock, {
        actor: {
          id: null,
          name: s.source ? `${this.audit.who} ${s.source}` : `${this.audit.who}s (untracked)`,
          ip: s.source,
        },
        action: this.audit.action,
        result: "denied",
        detail: {
          failures: s.failures,
          throttled: s.throttled,
          from: s.from.toISOString(),
          to: s.to.toISOString(),
          [this.audit.namesKey]: s.names,
          [this.audit.moreNamesKey]: s.moreNames,
        },
      });
    return summaries.length;
  }
}
