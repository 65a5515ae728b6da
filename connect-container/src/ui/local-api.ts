// The local consent API (/api/local/v1) for a machine HMI or key switch on the LAN: bearer token,
// JSON; reads the state and presses Connect and Disconnect like the operator, lists the requests
// waiting for the operator and allows or denies them, and answers the "request pending" signal.
import { Hono } from "hono";
import type { Agent } from "../agent/agent.ts";
import type { EventLog } from "../agent/events.ts";
import type { OperatorAuth } from "./auth.ts";
import { clientIp } from "./session.ts";

export interface LocalApiDeps {
  agent: Pick<Agent, "status" | "contact" | "connect" | "disconnect" | "consent">;
  auth: Pick<OperatorAuth, "apiTokenValid">;
  events: Pick<EventLog, "add">;
  /** The clock (ms since the epoch) for the refusal counts; tests pass their own. */
  now?: () => number;
}

const MINUTE_MS = 60_000;
/** Wrong tokens a source may send within its minute; after these it is answered 429. */
export const FREE_REFUSALS = 10;

/**
 * Refused requests (missing or wrong token) counted per source address in fixed one-minute
 * windows that start at a source's first refusal. The event log gets one line when a source's
 * minute starts and, once it is over, one line with the count when there were more — never a line
 * per request. After FREE_REFUSALS refusals a source is held back (429) until its minute ends; other
 * sources are not affected. (The sign-in's doubling back-off in auth.ts counts failures in a row
 * and never forgets them within a session; a key switch retrying a stale token needs a window
 * that ends on its own, hence this separate counter.)
 */
export class RefusalCounter {
  private sources = new Map<string, { since: number; refused: number; held: number }>();

  constructor(
    private readonly log: (text: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds (≥ 1) `source` must wait before it is heard again, or 0 when it may ask now. */
  heldFor(source: string): number {
    this.sweep();
    const entry = this.sources.get(source);
    if (!entry || entry.refused < FREE_REFUSALS) return 0;
    entry.held++;
    return Math.max(1, Math.ceil((entry.since + MINUTE_MS - this.now()) / 1000));
  }

  /** Counts one refused request from `source`; the first of its minute is logged at once. */
  refused(source: string): void {
    this.sweep();
    const entry = this.sources.get(source);
    if (entry) {
      entry.refused++;
      return;
    }
    this.sources.set(source, { since: this.now(), refused: 1, held: 0 });
    this.log(`local API: a request with a missing or wrong token from ${source} refused`);
  }

  /** Ends the minutes that are over, logging each one's count when it was more than its first. */
  sweep(): void {
    const now = this.now();
    for (const [source, entry] of this.sources) {
      if (now - entry.since < MINUTE_MS) continue;
      this.sources.delete(source);
      if (entry.refused > 1 || entry.held > 0)
        this.log(
          `local API: ${entry.refused} requests with a missing or wrong token from ${source} in the last minute` +
            (entry.held ? `; ${entry.held} more held back (429, too many)` : ""),
        );
    }
  }
}

/** The token of an `Authorization: Bearer <token>` header (scheme in any case, RFC 9110 §11.1). */
export function bearerToken(header: string | undefined): string | null {
  const match = /^bearer +(\S+) *$/i.exec(header ?? "");
  return match?.[1] ?? null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The local API's Hono app (mounted at /api/local/v1); every route needs the bearer token: 401
 * without it, 429 with Retry-After (seconds) once a source sent FREE_REFUSALS wrong ones within
 * its minute.
 */
export function localApi({ agent, auth, events, now = Date.now }: LocalApiDeps) {
  const api = new Hono();
  const refusals = new RefusalCounter((text) => events.add("warn", text), now);
  // A source that stops sending still gets its count logged when its minute is over.
  const sweeper = setInterval(() => refusals.sweep(), 10_000);
  sweeper.unref?.();
  api.use("*", async (c, next) => {
    const source = clientIp(c);
    const wait = refusals.heldFor(source);
    if (wait > 0) {
      c.header("Retry-After", String(wait));
      return c.json(
        { error: { status: 429, message: `too many wrong API tokens: wait ${wait} s` } },
        429,
      );
    }
    const token = bearerToken(c.req.header("authorization"));
    if (token === null || !auth.apiTokenValid(token)) {
      refusals.refused(source);
      return c.json({ error: { status: 401, message: "missing or wrong API token" } }, 401);
    }
    await next();
  });
  const stateOf = () => ({
    state: agent.status.state,
    tunnelAddress: agent.status.tunnelAddress,
    remoteSessionActive: agent.status.remoteSessions.some((s) => s.state === "active"),
    since: agent.status.since.toISOString(),
    lastError: agent.status.lastError,
    remoteSessions: agent.status.remoteSessions,
    platform: agent.contact
      ? {
          reachable: agent.contact.ok,
          error: agent.contact.error,
          at: agent.contact.at.toISOString(),
        }
      : null,
  });

  api.get("/state", (c) => c.json(stateOf()));
  api.post("/connect", async (c) => {
    const result = await agent.connect("local API");
    return c.json({ ...stateOf(), message: result.message }, result.ok ? 200 : 409);
  });
  api.post("/disconnect", async (c) => {
    await agent.disconnect("local API", null);
    return c.json(stateOf());
  });

  /** Requests waiting for the operator's decision, oldest first (and those that wait for the portal). */
  api.get("/requests", (c) =>
    c.json({
      requests: agent.consent.pending(),
      waitingForCustomerApproval: agent.consent.waitingForPortal(),
    }),
  );
  /** The "request pending" signal, for a lamp or an HMI: whether any request waits, and how many. */
  api.get("/signal", (c) => c.json(agent.consent.signalState()));
  /**
   * Allow or Deny, as the operator (audited as this gateway, "local API"): 200 with what it did
   * (repeats are idempotent), 404 for a request not through this gateway, 409 for one no longer
   * pending, 502 while the platform cannot be reached (nothing decided).
   */
  api.post("/requests/:id/:decision{allow|deny}", async (c) => {
    const id = c.req.param("id");
    if (!UUID.test(id))
      return c.json({ error: { status: 404, message: "no such request at this gateway" } }, 404);
    const decision = c.req.param("decision") === "allow" ? "allow" : "deny";
    const result = await agent.consent.decide(id.toLowerCase(), decision, "local API");
    if (!result.ok)
      return c.json({ error: { status: result.status, message: result.message } }, result.status);
    return c.json({ outcome: result.outcome, message: result.message });
  });
  // Anything else under the API is JSON 404, never the UI's sign-in page.
  api.all("*", (c) => c.json({ error: { status: 404, message: "no such local API call" } }, 404));
  return api;
}
