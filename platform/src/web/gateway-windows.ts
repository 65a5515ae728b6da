// The gateway API's maintenance windows (/api/gateway/v1/windows): what the operator on the
// gateway's UI lists, creates and cancels. The gateway is authenticated by the API's middleware;
// a window of another gateway is 404.
import {
  type GatewayWindowsResponse,
  gatewayWindowsResponseSchema,
  windowRequestSchema,
} from "@meetpoint/common";
import { and, eq, inArray } from "drizzle-orm";
import { Hono } from "hono";
import { type gateways, machines, roleAssignments, services, users } from "../db/index.ts";
import { windowState } from "../sessions/index.ts";
import type { WebEnv } from "./env.ts";

type ApiEnv = WebEnv & {
  Variables: WebEnv["Variables"] & { gateway: typeof gateways.$inferSelect };
};

/** The sub-app, mounted under the gateway API's authentication. */
export function gatewayWindows() {
  const api = new Hono<ApiEnv>();

  /** The gateway's windows, with the technicians and services a new one may name. */
  api.get("/", async (c) => {
    const { access, db, clock } = c.get("deps");
    const gateway = c.get("gateway");
    const rows = await access.windows.ofGateway(gateway.id);
    const technicians = await db
      .selectDistinct({ id: users.id, name: users.displayName })
      .from(roleAssignments)
      .innerJoin(users, eq(users.id, roleAssignments.userId))
      .where(
        and(
          eq(roleAssignments.role, "technician"),
          eq(roleAssignments.customerId, gateway.customerId),
        ),
      );
    const enabled = await db
      .select({ id: services.id, name: services.name, machine: machines.name })
      .from(services)
      .innerJoin(machines, eq(machines.id, services.machineId))
      .where(and(eq(machines.gatewayId, gateway.id), eq(services.enabled, true)));
    const named = rows.flatMap((w) => w.technicianIds);
    const names = named.length
      ? await db
          .select({ id: users.id, name: users.displayName })
          .from(users)
          .where(inArray(users.id, named))
      : [];
    const now = clock.now();
    const answer: GatewayWindowsResponse = {
      windows: rows.map((w) => ({
        id: w.id,
        start: w.startsAt.toISOString(),
        end: w.endsAt.toISOString(),
        weekly: w.weekly,
        technicians: w.technicianIds.map((id) => names.find((n) => n.id === id)?.name ?? id),
        services: w.serviceIds.map((id) => {
          const s = enabled.find((e) => e.id === id);
          return s ? `${s.machine}: ${s.name}` : id;
        }),
        mode: w.mode,
        reason: w.reason,
        origin: w.origin,
        createdBy: w.createdByName,
        state: windowState(w, now),
      })),
      technicians,
      services: enabled.map((s) => ({ id: s.id, name: `${s.machine}: ${s.name}` })),
    };
    return c.json(gatewayWindowsResponseSchema.parse(answer));
  });

  /** The operator creates a window (audited as the operator at this gateway). */
  api.post("/", async (c) => {
    const parsed = windowRequestSchema.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const message =
        issue?.code === "unrecognized_keys"
          ? `unexpected field(s) ${issue.keys.join(", ")}`
          : `${issue?.path.join(".") || "body"}: ${issue?.message}`;
      return c.json({ error: { status: 400, message, field: issue?.path[0] ?? null } }, 400);
    }
    const input = parsed.data;
    const window = await c
      .get("deps")
      .access.windows.createAtGateway(c.get("gateway"), input, c.get("ip"));
    return c.json({ id: window.id }, 201);
  });

  /** The operator cancels a window: its sessions end; a repeat changes nothing. */
  api.post("/:id/cancel", async (c) => {
    const done = await c
      .get("deps")
      .access.windows.cancelAtGateway(c.get("gateway"), c.req.param("id"), c.get("ip"));
    return c.json({ outcome: done.outcome, ended: done.ended });
  });

  return api;
}
