// The local consent API (/api/local/v1) for a machine HMI or key switch on the LAN: bearer token,
// JSON; reads the state and presses Connect and Disconnect like the operator, lists the requests
// waiting for the operator and allows or denies them, and answers the "request pending" signal.
import { Hono } from "hono";
import type { Agent } from "../agent/agent.ts";
import type { EventLog } from "../agent/events.ts";
import type { OperatorAuth } from "./auth.ts";

export interface LocalApiDeps {
  agent: Pick<Agent, "status" | "contact" | "connect" | "disconnect" | "consent">;
  auth: Pick<OperatorAuth, "apiTokenValid">;
  events: Pick<EventLog, "add">;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The local API's Hono app (mounted at /api/local/v1); every route needs the bearer token. */
export function localApi({ agent, auth, events }: LocalApiDeps) {
  const api = new Hono();
  api.use("*", async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    if (!header.startsWith("Bearer ") || !auth.apiTokenValid(header.slice(7))) {
      events.add("warn", "local API: request with a missing or wrong token refused");
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
