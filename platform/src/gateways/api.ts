// The gateway API (/api/gateway/v1): what a connect gateway asks of the platform over its HTTPS
// control channel. Bearer "<gateway id>.<secret>"; a secret reaches only its own gateway.
import { timingSafeEqual } from "node:crypto";
import {
  dataChannelRequestSchema,
  disconnectRequestSchema,
  heartbeatRequestSchema,
} from "@meetpoint/common";
import { and, eq } from "drizzle-orm";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { z } from "zod";
import { recordAuditAlone, SYSTEM_ACTOR } from "../audit/index.ts";
import { gatewaySessions, gateways } from "../db/index.ts";
import { hashGatewaySecret } from "../masterdata/index.ts";
import { operatorMustReconnect } from "../sessions/index.ts";
import { isUuid } from "../shared/index.ts";
import type { WebEnv } from "../web/env.ts";
import { heartbeat } from "./heartbeat.ts";

type Gateway = typeof gateways.$inferSelect;
type ApiEnv = WebEnv & { Variables: WebEnv["Variables"] & { gateway: Gateway } };

function apiError(c: Context<ApiEnv>, status: 400 | 404 | 409, message: string) {
  return c.json({ error: { status, message } }, status);
}

/** The JSON body parsed by `schema`; an empty body counts as `empty` when given. */
async function bodyOf<T extends z.ZodType>(
  c: Context<ApiEnv>,
  schema: T,
  empty?: z.infer<T>,
): Promise<{ ok: true; data: z.infer<T> } | { ok: false; response: Response }> {
  const text = await c.req.text();
  if (text.trim() === "" && empty !== undefined) return { ok: true, data: empty };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, response: apiError(c, 400, "the body must be JSON") };
  }
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, data: result.data };
  const issue = result.error.issues[0];
  const where = issue?.path.join(".") || "body";
  const message =
    issue?.code === "unrecognized_keys"
      ? `unexpected field(s) ${issue.keys.join(", ")}`
      : `${where}: ${issue?.message}`;
  return { ok: false, response: apiError(c, 400, message) };
}

export function gatewayApi() {
  const api = new Hono<ApiEnv>();
  api.use(
    "*",
    bodyLimit({
      maxSize: 16 * 1024,
      onError: (c) => c.json({ error: { status: 413, message: "request too large" } }, 413),
    }),
  );

  api.use("*", async (c, next) => {
    const deps = c.get("deps");
    const header = c.req.header("authorization") ?? "";
    const [id = "", secret = ""] = header.replace(/^Bearer /, "").split(".");
    const [gateway] = isUuid(id)
      ? await deps.db.select().from(gateways).where(eq(gateways.id, id.toLowerCase()))
      : [];
    const expected = Buffer.from(gateway?.secretHash ?? "0".repeat(64), "hex");
    const given = Buffer.from(hashGatewaySecret(secret), "hex");
    if (!gateway || !header.startsWith("Bearer ") || !timingSafeEqual(expected, given)) {
      await recordAuditAlone(deps.db, deps.clock, {
        actor: {
          ...SYSTEM_ACTOR,
          name: `gateway ${isUuid(id) ? id : "(unknown)"}`,
          ip: c.get("ip"),
        },
        action: "gateway_api.auth",
        result: "denied",
        detail: { path: c.req.path },
      });
      return c.json({ error: { status: 401, message: "unknown gateway or wrong secret" } }, 401);
    }
    c.set("gateway", gateway);
    await next();
  });

  /** Alive and how: recorded; answered with the data channel's state and the remote sessions. */
  api.post("/heartbeat", async (c) => {
    const report = await bodyOf(c, heartbeatRequestSchema);
    if (!report.ok) return report.response;
    const deps = c.get("deps");
    return c.json(await heartbeat(deps.sessions, c.get("gateway"), report.data, c.get("ip")));
  });

  /** Long-poll: signed commands after `cursor`, waiting up to `wait` seconds (at most 25). */
  api.get("/commands", async (c) => {
    const cursor = Number(c.req.query("cursor") ?? "0");
    const wait = Number(c.req.query("wait") ?? "0");
    if (!Number.isSafeInteger(cursor) || cursor < 0 || !Number.isFinite(wait) || wait < 0)
      return apiError(c, 400, "cursor must be a whole number ≥ 0 and wait seconds ≥ 0");
    const commands = c.get("deps").sessions.commands;
    return c.json(
      await commands.next(c.get("gateway").id, cursor, Math.min(wait, 25) * 1000, c.req.raw.signal),
    );
  });

  /**
   * Connect: a signed one-time data-channel configuration. The operator's Connect sends no
   * `reconnectOf`; the agent's automatic reconnect after a fault names the channel it lost, and is
   * refused when a technician or an admin closed that one.
   */
  api.post("/data-channel", async (c) => {
    const request = await bodyOf(c, dataChannelRequestSchema, { reconnectOf: null });
    if (!request.ok) return request.response;
    const gateway = c.get("gateway");
    const sessions = c.get("deps").sessions;
    const lost = request.data.reconnectOf;
    if (lost) {
      const [previous] = await c
        .get("deps")
        .db.select()
        .from(gatewaySessions)
        .where(and(eq(gatewaySessions.id, lost), eq(gatewaySessions.gatewayId, gateway.id)));
      if (!previous) return apiError(c, 404, "unknown data channel");
      if (operatorMustReconnect(previous.closeReason))
        return apiError(
          c,
          409,
          `the data channel was closed (${previous.closeReason}): only the operator can connect again`,
        );
    }
    const { envelope, session } = await sessions.requestDataChannel(gateway.id);
    return c.json({ envelope, gatewaySessionId: session.id });
  });

  /** The operator pressed Disconnect: the data channel closes, its remote sessions end. */
  api.post("/disconnect", async (c) => {
    const request = await bodyOf(c, disconnectRequestSchema, { gatewaySessionId: null });
    if (!request.ok) return request.response;
    const gateway = c.get("gateway");
    const sessions = c.get("deps").sessions;
    const newest = await sessions.openGatewaySession(gateway.id);
    const named = request.data.gatewaySessionId;
    const open = named === null || newest?.id === named ? newest : null;
    if (open)
      await sessions.closeGatewaySession(open.id, "operator", {
        id: null,
        name: `operator at gateway ${gateway.name}`,
        ip: c.get("ip"),
      });
    return c.json({ closed: open !== null });
  });

  return api;
}
