// The local consent API (/api/local/v1) for a machine HMI or key switch on the LAN: bearer token,
// JSON; reads the state and presses Connect and Disconnect like the operator.
import { Hono } from "hono";
import type { Agent } from "../agent/agent.ts";
import type { EventLog } from "../agent/events.ts";
import type { OperatorAuth } from "./auth.ts";

export interface LocalApiDeps {
  agent: Pick<Agent, "status" | "contact" | "connect" | "disconnect">;
  auth: Pick<OperatorAuth, "apiTokenValid">;
  events: Pick<EventLog, "add">;
}

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
  return api;
}
