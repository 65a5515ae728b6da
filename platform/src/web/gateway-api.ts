// The gateway API (/api/gateway/v1): what a connect gateway asks of the platform over its HTTPS
// control channel. Bearer "<gateway id>.<secret>"; a secret reaches only its own gateway. Bodies
// are checked against the shared contract (common/src/control) before a handler sees them.
import { timingSafeEqual } from "node:crypto";
import { zValidator } from "@hono/zod-validator";
import {
  dataChannelRequestSchema,
  disconnectRequestSchema,
  gatewayPhase,
  type HeartbeatResponse,
  heartbeatRequestSchema,
  heartbeatResponseSchema,
  requestDecisionResponseSchema,
  requestDecisionSchema,
} from "@meetpoint/common";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { z } from "zod";
import { recordAuditAlone, SYSTEM_ACTOR } from "../audit/index.ts";
import type { gateways } from "../db/index.ts";
import { recordSshEvents, settingsEnvelopeFor } from "../gateways/index.ts";
import { hashGatewaySecret } from "../masterdata/index.ts";
import {
  closeReasonText,
  type HeartbeatKnown,
  readGatewayForHeartbeat,
  readGatewayRow,
} from "../sessions/index.ts";
import { escapeFormatCharacters, inputLayer, isDomainError, isUuid } from "../shared/index.ts";
import type { WebEnv } from "./env.ts";
import { gatewayWindows } from "./gateway-windows.ts";

type Gateway = typeof gateways.$inferSelect;
type ApiEnv = WebEnv & {
  Variables: WebEnv["Variables"] & {
    gateway: Gateway;
    /** A heartbeat's: what the credentials read found for its answer (sessions/heartbeat-read.ts). */
    heartbeatKnown?: HeartbeatKnown;
  };
};

import { LoadShedder } from "./load-shedding.ts";

function apiError(c: Context<ApiEnv>, status: 400 | 404 | 409, message: string) {
  return c.json({ error: { status, message } }, status);
}

/** A JSON body that fits `schema`, or 400 naming the field that does not (or the unexpected ones). */
function jsonBody<T extends z.ZodType>(schema: T) {
  return zValidator("json", schema, (result, c) => {
    if (result.success) return;
    const issue = result.error.issues[0];
    const where = issue?.path.join(".") || "body";
    const message =
      issue?.code === "unrecognized_keys"
        ? `unexpected field(s) ${issue.keys.join(", ")}`
        : `${where}: ${issue?.message}`;
    return apiError(c as Context<ApiEnv>, 400, message);
  });
}

export function gatewayApi(shedder: LoadShedder = new LoadShedder()) {
  const api = new Hono<ApiEnv>();
  // Load first: a platform that falls behind refuses at once rather than queueing without end.
  api.use(
    "*",
    shedder.middleware((path) => path.endsWith("/commands")),
  );
  api.onError((error, c) => {
    // The validator's own refusal of a body that is not JSON at all.
    if (error instanceof HTTPException && error.status === 400)
      return apiError(c, 400, "the body must be JSON");
    throw error;
  });
  api.use(
    "*",
    bodyLimit({
      maxSize: 16 * 1024,
      onError: (c) => c.json({ error: { status: 413, message: "request too large" } }, 413),
    }),
  );

  // Credentials first (one indexed lookup and a hash: a bounded cost), so a gateway with its
  // secret is never held up by failures from its address (a shared NAT, or an attacker beside
  // it); failures are throttled per source and audited in aggregate (audit/failure-guard.ts).
  api.use("*", async (c, next) => {
    const deps = c.get("deps");
    const header = c.req.header("authorization") ?? "";
    const [id = "", secret = ""] = header.replace(/^Bearer /, "").split(".");
    // A heartbeat's credentials read also fetches what its answer needs (one round trip).
    const beat = c.req.method === "POST" && c.req.path.endsWith("/heartbeat");
    let gateway: Gateway | undefined;
    if (isUuid(id) && beat) {
      const found = await readGatewayForHeartbeat(deps.db, id.toLowerCase());
      gateway = found?.gateway;
      if (found) c.set("heartbeatKnown", found.known);
    } else if (isUuid(id)) gateway = await readGatewayRow(deps.db, id.toLowerCase());
    const expected = Buffer.from(gateway?.secretHash ?? "0".repeat(64), "hex");
    const given = Buffer.from(hashGatewaySecret(secret), "hex");
    if (gateway && header.startsWith("Bearer ") && timingSafeEqual(expected, given)) {
      // A workstation has no agent: whoever holds its secret gets no data channel or settings.
      if (gateway.kind === "workstation")
        return c.json(
          {
            error: {
              status: 403,
              message:
                "a workstation has no gateway agent: its people bring it online from the portal",
            },
          },
          403,
        );
      c.set("gateway", gateway);
      return next();
    }
    const windows = deps.authFailures.gatewayApi.windows;
    const wait = windows.attempt(c.get("ip"));
    if (wait > 0) {
      c.header("Retry-After", String(wait));
      return c.json(
        {
          error: {
            status: 429,
            message: `too many failed authentications from this address: try again in ${wait} s`,
          },
        },
        429,
      );
    }
    windows.unaudited(c.get("ip"), isUuid(id) ? id.toLowerCase() : null);
    return c.json({ error: { status: 401, message: "unknown gateway or wrong secret" } }, 401);
  });
  // Control characters in any string, or a body that is not JSON: 400 before a handler sees it.
  api.use("*", inputLayer);

  /**
   * Alive and how: recorded, with its SSH log audited; answered with the data channel's state, the
   * remote and maintenance sessions, and the gateway's signed settings.
   */
  api.post("/heartbeat", jsonBody(heartbeatRequestSchema), async (c) => {
    const { access, db, clock, pki } = c.get("deps");
    const gateway = c.get("gateway");
    const sent = c.req.valid("json");
    // What the agent writes freely is shown and audited as sent: invisible format characters
    // (bidi overrides, zero-width) are made visible rather than left to reorder or hide text.
    const report = {
      ...sent,
      lastError: sent.lastError === null ? null : escapeFormatCharacters(sent.lastError),
      agentVersion: escapeFormatCharacters(sent.agentVersion),
      openvpnVersion:
        sent.openvpnVersion === null ? null : escapeFormatCharacters(sent.openvpnVersion),
    };
    const before = gateway.agent;
    const actor = { ...SYSTEM_ACTOR, name: `gateway ${gateway.name}`, ip: c.get("ip") };
    // Since when the gateway is off, connecting, online or failing (what the portal shows), and
    // the secret it reports with: the first heartbeat with a new one is a new enrollment. Written
    // with the report, in the heartbeat's one write.
    const phase = gatewayPhase(report.state, report.lastError);
    const enrolledWith = gateway.secretHash.slice(0, 16);
    const known = c.get("heartbeatKnown");
    const answer = await access.heartbeat(
      gateway,
      report,
      c.get("ip"),
      {
        phase,
        phaseSince:
          before?.phase === phase && before.phaseSince
            ? before.phaseSince
            : clock.now().toISOString(),
        enrolledWith,
      },
      known,
    );
    await recordSshEvents({ db, clock }, gateway, report.sshEvents, c.get("ip"));
    const settings = await settingsEnvelopeFor({ db, clock, pki }, gateway.id, known?.settings);
    // A gateway that reported before this was recorded (an upgrade) is not a new enrollment.
    const upgraded = gateway.lastSeenAt !== null && before?.enrolledWith === undefined;
    if (before?.enrolledWith !== enrolledWith && !upgraded)
      await recordAuditAlone(db, clock, {
        actor,
        action: "gateway.enroll",
        target: { type: "gateway", id: gateway.id },
        customerId: gateway.customerId,
        detail: {
          name: gateway.name,
          firstContact: gateway.lastSeenAt === null,
          agentVersion: report.agentVersion,
        },
      });
    // What changed at the gateway goes into the audit log (and so to the SIEM and alerts).
    if (
      before?.state !== report.state ||
      (report.lastError !== null && report.lastError !== before.lastError)
    ) {
      await recordAuditAlone(db, clock, {
        actor,
        action: "gateway.report",
        target: { type: "gateway", id: gateway.id },
        customerId: gateway.customerId,
        result: report.lastError ? "failed" : "ok",
        detail: {
          state: report.state,
          previousState: before?.state ?? null,
          lastError: report.lastError,
          agentVersion: report.agentVersion,
          openvpnVersion: report.openvpnVersion,
          // The agent's claim beside the platform's own view of the channel it names.
          dataChannel: answer.dataChannel?.state ?? null,
        },
      });
    }
    // The answer fits the shared contract before it leaves (the gateway checks it again).
    return c.json(
      heartbeatResponseSchema.parse({ ...answer, settings } satisfies HeartbeatResponse),
    );
  });

  /** Long-poll: signed commands after `cursor`, waiting up to `wait` seconds (at most 25). */
  api.get("/commands", async (c) => {
    const cursor = Number(c.req.query("cursor") ?? "0");
    const wait = Number(c.req.query("wait") ?? "0");
    if (!Number.isSafeInteger(cursor) || cursor < 0 || !Number.isFinite(wait) || wait < 0)
      return apiError(c, 400, "cursor must be a whole number ≥ 0 and wait seconds ≥ 0");
    const commands = c.get("deps").access.commands;
    return c.json(
      await commands.next(c.get("gateway").id, cursor, Math.min(wait, 25) * 1000, c.req.raw.signal),
    );
  });

  /**
   * Connect: a signed one-time data-channel configuration. The operator's Connect sends no
   * `reconnectOf`; the agent's automatic reconnect after a fault names the channel it lost, and is
   * refused when a technician or an admin closed that one.
   */
  api.post("/data-channel", jsonBody(dataChannelRequestSchema), async (c) => {
    const gateway = c.get("gateway");
    const { access, db, clock } = c.get("deps");
    const { reconnectOf: lost, transport, windowId } = c.req.valid("json");
    // A refused Connect is audited too: the operator's, or the gateway's own reconnect.
    const refused = (reason: string) =>
      recordAuditAlone(db, clock, {
        actor: { ...SYSTEM_ACTOR, name: `gateway ${gateway.name}`, ip: c.get("ip") },
        action: "gateway_session.request",
        target: { type: "gateway", id: gateway.id },
        customerId: gateway.customerId,
        result: "denied",
        detail: { by: lost ? "automatic reconnect" : "operator's Connect", reason },
      });
    if (lost) {
      const verdict = await access.dataChannels.reconnect(gateway.id, lost);
      if (!verdict.ok && verdict.unknown) return apiError(c, 404, "unknown data channel");
      if (!verdict.ok && !verdict.unknown) {
        const message = `the data channel was closed (${closeReasonText(verdict.closedFor)}): only the operator can connect again`;
        await refused(message);
        return apiError(c, 409, message);
      }
    }
    // The agent arms by itself at a window's start: only for a window of its own that is open now.
    if (windowId) {
      const open = (await access.windows.upcoming(gateway.id)).find(
        (w) => w.id === windowId && w.start.getTime() <= clock.now().getTime() + 60_000,
      );
      if (!open) {
        await refused(`maintenance window ${windowId} is not open now`);
        return apiError(c, 409, `maintenance window ${windowId} is not open now`);
      }
      await recordAuditAlone(db, clock, {
        actor: { ...SYSTEM_ACTOR, name: `gateway ${gateway.name}`, ip: c.get("ip") },
        action: "maintenance_window.arm",
        target: { type: "gateway", id: gateway.id },
        customerId: gateway.customerId,
        detail: {
          windowId,
          by: "maintenance window",
          start: open.start.toISOString(),
          end: open.end.toISOString(),
        },
      });
    }
    try {
      const { envelope, session } = await access.dataChannels.request(
        gateway.id,
        transport,
        c.req.raw.signal,
      );
      return c.json({ envelope, gatewaySessionId: session.id });
    } catch (error) {
      if (isDomainError(error)) await refused(error.message);
      throw error;
    }
  });

  /**
   * The operator pressed Disconnect (or a maintenance window the agent armed for ended): the data
   * channel closes, its remote sessions end.
   */
  api.post("/disconnect", jsonBody(disconnectRequestSchema), async (c) => {
    const gateway = c.get("gateway");
    const { gatewaySessionId, windowId } = c.req.valid("json");
    const closed = await c
      .get("deps")
      .access.dataChannels.operatorDisconnect(gateway.id, gatewaySessionId, {
        id: null,
        name: windowId
          ? `maintenance window ${windowId} at gateway ${gateway.name}`
          : `operator at gateway ${gateway.name}`,
        ip: c.get("ip"),
      });
    return c.json({ closed });
  });

  /**
   * The operator's Allow or Deny of a request waiting for this gateway (consent policies
   * operator_approval, two_party), made on its UI or local API; idempotent. 404 for a request not
   * through this gateway, 409 for one no longer pending or whose policy has the operator not decide.
   */
  api.post("/requests/:id/decision", jsonBody(requestDecisionSchema), async (c) => {
    const gateway = c.get("gateway");
    const decided = await c
      .get("deps")
      .access.requests.decideAtGateway(
        gateway,
        c.req.param("id"),
        c.req.valid("json"),
        c.get("ip"),
      );
    return c.json(requestDecisionResponseSchema.parse(decided));
  });
  // The operator's maintenance windows on the gateway's UI: list, create, cancel.
  api.route("/windows", gatewayWindows());

  return api;
}
