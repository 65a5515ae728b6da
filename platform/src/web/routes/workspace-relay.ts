// The WebSocket upgrade for a workspace's desktop (/workspaces/:id/vnc): every refusal is decided
// here, before the upgrade, with an HTTP status the browser's console and the tests can read.
import type { Server } from "bun";
import type { Context as HonoContext } from "hono";
import { Hono } from "hono";
import { recordAuditAlone } from "../../audit/index.ts";
import { ForbiddenError, NotFoundError } from "../../shared/index.ts";
import { getWorkspace, sessionPassedSecondFactor, type VncRelay } from "../../workspaces/index.ts";
import type { WebEnv } from "../env.ts";

/** A refusal before the upgrade: plain text, the status says which check failed. */
function refuse(status: 401 | 403 | 404 | 409 | 426 | 503, text: string) {
  return new Response(`${text}\n`, {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" },
  });
}

/** The Origin the portal's pages are served from (MEETPOINT_PUBLIC_URL). */
function portalOrigin(c: HonoContext<WebEnv>): string {
  return new URL(c.get("deps").enrollment.platformUrl).origin;
}

export function workspaceRelayRoutes() {
  const app = new Hono<WebEnv>();
  app.get("/workspaces/:id/vnc", async (c) => {
    const relay: VncRelay | undefined = c.get("deps").workspaceRelay;
    if (!relay) return refuse(503, "The browser relay is not running on this platform.");
    if ((c.req.header("upgrade") ?? "").toLowerCase() !== "websocket")
      return refuse(426, "This address takes a WebSocket (the workspace's Open page uses it).");
    const origin = c.req.header("origin") ?? "";
    if (origin !== portalOrigin(c))
      return refuse(403, `Origin ${origin || "(none)"} is not this portal's.`);
    const session = c.get("session");
    if (!session) return refuse(401, "Sign in to the portal first.");
    const ctx = c.get("ctx");
    const actor = ctx.caller.actor;
    let view: Awaited<ReturnType<typeof getWorkspace>>;
    try {
      view = await getWorkspace(ctx, c.req.param("id"));
    } catch (error) {
      if (error instanceof NotFoundError) return refuse(404, "Workspace not found.");
      if (error instanceof ForbiddenError) return refuse(404, "Workspace not found.");
      throw error;
    }
    const ws = view.workspace;
    if (!sessionPassedSecondFactor(session)) {
      await recordAuditAlone(ctx.db, ctx.clock, {
        actor,
        action: "workspace.connect",
        target: { type: "workspace", id: ws.id },
        customerId: ws.customerId,
        result: "denied",
        detail: { reason: "this portal session did not pass a second factor" },
      });
      return refuse(
        403,
        "Opening a workspace needs a sign-in with a second factor (your identity provider's MFA or Meetpoint's authenticator code). Sign out and sign in again with it.",
      );
    }
    const display = await relay.deps.displays.lookup(ws.id);
    if (!display) return refuse(409, "The workspace is not running: start it first.");
    const holder = await relay.viewerOf(ws.id);
    if (holder) {
      await recordAuditAlone(ctx.db, ctx.clock, {
        actor,
        action: "workspace.connect",
        target: { type: "workspace", id: ws.id },
        customerId: ws.customerId,
        result: "denied",
        detail: { reason: `${holder.username} is connected`, since: holder.since.toISOString() },
      });
      return refuse(
        409,
        `${holder.username} is connected to this workspace since ${holder.since.toISOString()}; one viewer at a time.`,
      );
    }
    const connection = await relay.admit({
      workspaceId: ws.id,
      customerId: ws.customerId,
      customerName: view.customerName,
      userId: session.principal.userId,
      username: actor.name,
      webSessionId: session.id,
      ip: actor.ip,
      display,
    });
    if (!connection) {
      const now = await relay.viewerOf(ws.id);
      return refuse(
        409,
        `${now?.username ?? "Another viewer"} connected to this workspace a moment ago; one viewer at a time.`,
      );
    }
    const server = c.env as Server<unknown> | undefined;
    if (!server?.upgrade(c.req.raw, { data: connection })) {
      await relay.abandon(connection);
      return refuse(426, "The WebSocket upgrade failed.");
    }
    // Bun has answered the upgrade itself; this response is not sent.
    return new Response(null);
  });
  return app;
}
