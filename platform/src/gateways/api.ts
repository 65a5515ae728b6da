// The gateway API (/api/gateway/v1): what a connect gateway asks of the platform over its HTTPS
// control channel. Bearer "<gateway id>.<secret>"; a secret reaches only its own gateway.
import { timingSafeEqual } from "node:crypto";
import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { recordAuditAlone, SYSTEM_ACTOR } from "../audit/index.ts";
import { gateways } from "../db/index.ts";
import { hashGatewaySecret } from "../masterdata/index.ts";
import { isUuid } from "../shared/validate.ts";
import type { WebEnv } from "../web/env.ts";

type Gateway = typeof gateways.$inferSelect;
type ApiEnv = WebEnv & { Variables: WebEnv["Variables"] & { gateway: Gateway } };

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

  /** The operator pressed Connect: a signed one-time data-channel configuration. */
  api.post("/data-channel", async (c) => {
    const { envelope, session } = await c
      .get("deps")
      .sessions.requestDataChannel(c.get("gateway").id);
    return c.json({ envelope, gatewaySessionId: session.id });
  });

  /** The operator pressed Disconnect: the data channel closes, its remote sessions end. */
  api.post("/disconnect", async (c) => {
    const gateway = c.get("gateway");
    const sessions = c.get("deps").sessions;
    const open = await sessions.openGatewaySession(gateway.id);
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
