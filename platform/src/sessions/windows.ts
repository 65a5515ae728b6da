// Maintenance windows: a gateway's operator (on the gateway's UI) or, where the site allows it, a
// customer approver (in the portal) pre-approves named technicians' requests for some services over
// a time, once or weekly. Inside an open window a matching request is approved at its creation and
// ends with the window; cancelling a window ends its sessions. Every decision is audited.
import { and, eq, inArray, isNull, ne } from "drizzle-orm";
import { type Context, checkId, inScope, scopeOf } from "../access/index.ts";
import { type Actor, recordAudit, SYSTEM_ACTOR } from "../audit/index.ts";
import {
  type Db,
  gateways,
  inTransaction,
  machines,
  maintenanceWindows,
  remoteSessions,
  roleAssignments,
  services,
  sites,
  users,
  type WindowOrigin,
} from "../db/index.ts";
import { getGateway } from "../masterdata/index.ts";
import {
  type Clock,
  ForbiddenError,
  NotFoundError,
  parseInput,
  StateError,
  ValidationError,
} from "../shared/index.ts";
import type { SessionEnds } from "./ends.ts";
import { LONGEST_ONCE_MS, PAST_SLACK_MS, windowInput } from "./window-input.ts";
import {
  matchingWindow,
  type UpcomingWindow,
  upcomingOccurrences,
  type WindowMatch,
  type WindowRequestFacts,
} from "./window-queries.ts";
import { WEEK_MS, windowsOverlap } from "./window-times.ts";

export { WINDOW_HORIZON_MS, windowInput, windowState } from "./window-input.ts";
export type { UpcomingWindow, WindowMatch, WindowRequestFacts } from "./window-queries.ts";

export type MaintenanceWindow = typeof maintenanceWindows.$inferSelect;
type Gateway = typeof gateways.$inferSelect;

/** What a cancel did: now, or found done already (a repeat changes nothing). */
export interface WindowCancel {
  outcome: "cancelled" | "already_cancelled";
  window: MaintenanceWindow;
  /** Sessions the cancel ended. */
  ended: number;
}

export interface MaintenanceWindowsDeps {
  db: Db;
  clock: Clock;
  ends: Pick<SessionEnds, "endRemoteSession" | "refreshGateway">;
  /** Tells a gateway to fetch its state now (its windows changed). */
  tellGateway: (gatewayId: string, reason: string) => Promise<void>;
}

export class MaintenanceWindows {
  constructor(private readonly deps: MaintenanceWindowsDeps) {}

  /**
   * Whether the caller may create or cancel windows in the portal on this gateway: a customer
   * approver (customer admin, or operator of the customer or site) — a platform role decides
   * nothing about the customer's plant.
   */
  static mayManage(
    principal: Context["caller"]["principal"],
    g: { customerId: string; siteId: string },
  ): boolean {
    const customers = { ...principal, grants: principal.grants.filter((x) => x.customerId) };
    return inScope(scopeOf(customers, "sessions.approve"), g.customerId, g.siteId);
  }

  /** A gateway's windows, newest first, for the portal (404 outside the caller's customers). */
  async list(ctx: Context, gatewayId: string): Promise<MaintenanceWindow[]> {
    const gateway = await getGateway(ctx, gatewayId);
    return this.ofGateway(gateway.id);
  }

  /** A gateway's windows, newest first (for its own UI, through the gateway API). */
  async ofGateway(gatewayId: string): Promise<MaintenanceWindow[]> {
    const rows = await this.deps.db
      .select()
      .from(maintenanceWindows)
      .where(eq(maintenanceWindows.gatewayId, gatewayId));
    return rows.sort((a, b) => b.startsAt.getTime() - a.startsAt.getTime());
  }

  /**
   * Creates a window in the portal: 404 for a gateway outside the caller's customers; 403 where
   * the site lets only the operator create windows, or for who is no customer approver; 400 naming
   * the field for bad input (see `create`).
   */
  async createInPortal(
    ctx: Context,
    gatewayId: string,
    input: unknown,
  ): Promise<MaintenanceWindow> {
    const gateway = await getGateway(ctx, gatewayId);
    const row = await this.gatewayRow(gateway.id);
    if (!MaintenanceWindows.mayManage(ctx.caller.principal, row))
      throw new ForbiddenError(
        "Only a customer admin of this customer, or an operator of its site, creates windows.",
      );
    const site = await this.siteOf(row);
    if (site.windowCreators !== "operator_and_customer")
      throw new ForbiddenError(
        "At this site only the operator on the gateway's screen creates maintenance windows.",
      );
    const [me] = await this.deps.db
      .select({ name: users.displayName })
      .from(users)
      .where(eq(users.id, ctx.caller.principal.userId));
    return this.create(row, input, "portal", ctx.caller.actor, {
      id: ctx.caller.principal.userId,
      name: me?.name ?? ctx.caller.actor.name ?? "customer approver",
    });
  }

  /** Creates a window from the operator on the gateway's UI (the gateway API; 400 as `create`). */
  async createAtGateway(
    gateway: Gateway,
    input: unknown,
    ip: string | null,
  ): Promise<MaintenanceWindow> {
    const name = `operator at gateway ${gateway.name}`;
    return this.create(
      gateway,
      input,
      "gateway",
      { ...SYSTEM_ACTOR, name, ip },
      { id: null, name },
    );
  }

  /**
   * Checks and stores a window, audited, and tells the gateway. 409 for a workstation (nothing to
   * arm). 400 on `end` before its start,
   * longer than a week when weekly (31 days once); on `start` more than a minute past, or when it
   * overlaps another open window where the site forbids that (naming it); on `technicians` for who
   * is no technician of the customer; on `services` for what is no enabled service behind the
   * gateway; on `mode` read_only with a service that is not read-only Modbus.
   */
  private async create(
    gateway: Gateway,
    input: unknown,
    origin: WindowOrigin,
    actor: Actor,
    creator: { id: string | null; name: string },
  ): Promise<MaintenanceWindow> {
    const { db, clock } = this.deps;
    if (gateway.kind === "workstation")
      throw new StateError(
        "ERR_WORKSTATION",
        "A workstation has no gateway agent to arm at a window's start: its people bring it online from the portal.",
      );
    const asked = parseInput(windowInput, input);
    const now = clock.now();
    if (asked.end.getTime() <= asked.start.getTime())
      throw new ValidationError("end", "must be after the start");
    if (asked.start.getTime() < now.getTime() - PAST_SLACK_MS)
      throw new ValidationError("start", "must not be in the past (at most a minute ago)");
    const length = asked.end.getTime() - asked.start.getTime();
    if (asked.weekly && length > WEEK_MS)
      throw new ValidationError("end", "a weekly window lasts at most a week");
    if (length > LONGEST_ONCE_MS)
      throw new ValidationError("end", "a window lasts at most 31 days");
    await this.checkTechnicians(gateway.customerId, asked.technicians);
    const enabled = await this.enabledServices(gateway.id);
    for (const id of asked.services)
      if (!enabled.some((s) => s.id === id))
        throw new ValidationError(
          "services",
          `${id} is not an enabled service of a machine behind this gateway`,
        );
    const covered = asked.services.length
      ? enabled.filter((s) => asked.services.includes(s.id))
      : enabled;
    if (asked.mode === "read_only" && covered.some((s) => s.mode !== "modbus-read-only"))
      throw new ValidationError(
        "mode",
        "read_only needs every service of the window to be a read-only Modbus service: choose those services, or full",
      );
    const timing = { startsAt: asked.start, endsAt: asked.end, weekly: asked.weekly };
    const site = await this.siteOf(gateway);
    return inTransaction(db, async (tx) => {
      if (!site.windowsMayOverlap) {
        const others = await tx
          .select()
          .from(maintenanceWindows)
          .where(
            and(
              eq(maintenanceWindows.gatewayId, gateway.id),
              isNull(maintenanceWindows.cancelledAt),
            ),
          );
        const clash = others.find((o) => windowsOverlap(o, timing));
        if (clash)
          throw new ValidationError(
            "start",
            `overlaps window ${clash.id} (${clash.reason}, ${clash.startsAt.toISOString()} – ${clash.endsAt.toISOString()}${clash.weekly ? ", weekly" : ""}): this site does not allow overlapping windows`,
          );
      }
      const [row] = await tx
        .insert(maintenanceWindows)
        .values({
          customerId: gateway.customerId,
          gatewayId: gateway.id,
          startsAt: asked.start,
          endsAt: asked.end,
          weekly: asked.weekly,
          technicianIds: asked.technicians,
          serviceIds: asked.services,
          mode: asked.mode,
          reason: asked.reason,
          origin,
          createdBy: creator.id,
          createdByName: creator.name,
        })
        .returning();
      if (!row) throw new Error("maintenance window not stored");
      await recordAudit(tx, clock, {
        actor,
        action: "maintenance_window.create",
        target: { type: "gateway", id: gateway.id },
        customerId: gateway.customerId,
        detail: {
          windowId: row.id,
          where: origin,
          start: row.startsAt.toISOString(),
          end: row.endsAt.toISOString(),
          weekly: row.weekly,
          technicians: row.technicianIds,
          services: row.serviceIds,
          mode: row.mode,
          reason: row.reason,
        },
      });
      return row;
    }).then(async (row) => {
      await this.deps.tellGateway(gateway.id, "maintenance window created");
      return row;
    });
  }

  /**
   * Cancels a window in the portal: 404 outside the caller's customers (and for a window of another
   * gateway), 403 for a window the operator created at the gateway (cancelled there) or for who is
   * no customer approver. A repeat changes nothing.
   */
  async cancelInPortal(ctx: Context, gatewayId: string, windowId: string): Promise<WindowCancel> {
    const gateway = await getGateway(ctx, gatewayId);
    const row = await this.gatewayRow(gateway.id);
    const window = await this.windowOf(gateway.id, windowId);
    if (!MaintenanceWindows.mayManage(ctx.caller.principal, row))
      throw new ForbiddenError(
        "Only a customer admin of this customer, or an operator of its site, cancels windows.",
      );
    if (window.origin !== "portal")
      throw new ForbiddenError(
        "The operator created this window on the gateway's screen: it is cancelled there.",
      );
    return this.cancel(row, window, ctx.caller.actor);
  }

  /** Cancels a window of this gateway from its operator UI (404 for another gateway's window). */
  async cancelAtGateway(
    gateway: Gateway,
    windowId: string,
    ip: string | null,
  ): Promise<WindowCancel> {
    const window = await this.windowOf(gateway.id, windowId);
    return this.cancel(gateway, window, {
      ...SYSTEM_ACTOR,
      name: `operator at gateway ${gateway.name}`,
      ip,
    });
  }

  private async cancel(
    gateway: Gateway,
    window: MaintenanceWindow,
    actor: Actor,
  ): Promise<WindowCancel> {
    const { db, clock } = this.deps;
    if (window.cancelledAt) return { outcome: "already_cancelled", window, ended: 0 };
    const now = clock.now();
    const done = await inTransaction(db, async (tx) => {
      const [row] = await tx
        .update(maintenanceWindows)
        .set({ cancelledAt: now, cancelledByName: actor.name ?? "system" })
        .where(and(eq(maintenanceWindows.id, window.id), isNull(maintenanceWindows.cancelledAt)))
        .returning();
      if (!row) return null;
      await recordAudit(tx, clock, {
        actor,
        action: "maintenance_window.cancel",
        target: { type: "gateway", id: gateway.id },
        customerId: gateway.customerId,
        detail: { windowId: window.id, reason: window.reason },
      });
      return row;
    });
    if (!done) {
      const [again] = await db
        .select()
        .from(maintenanceWindows)
        .where(eq(maintenanceWindows.id, window.id));
      return { outcome: "already_cancelled", window: again ?? window, ended: 0 };
    }
    const open = await db
      .select({ id: remoteSessions.id })
      .from(remoteSessions)
      .where(and(eq(remoteSessions.windowId, window.id), ne(remoteSessions.state, "ended")));
    let ended = 0;
    for (const s of open)
      if (
        await this.deps.ends.endRemoteSession(s.id, "window_cancelled", actor, {
          windowId: window.id,
        })
      )
        ended++;
    await this.deps.tellGateway(gateway.id, "maintenance window cancelled");
    return { outcome: "cancelled", window: done, ended };
  }

  /**
   * The open window that pre-approves this request now, with its occurrence (see
   * `matchingWindow`); null: none (the site's policy applies).
   */
  matching(request: WindowRequestFacts): Promise<WindowMatch | null> {
    return matchingWindow(this.deps.db, request);
  }

  /** The occurrences of a gateway's windows open now or starting within the horizon (24 h). */
  upcoming(gatewayId: string): Promise<UpcomingWindow[]> {
    return upcomingOccurrences(this.deps.db, gatewayId, this.deps.clock.now());
  }

  private async gatewayRow(id: string): Promise<Gateway> {
    const [row] = await this.deps.db.select().from(gateways).where(eq(gateways.id, id));
    if (!row) throw new NotFoundError("Gateway");
    return row;
  }

  private async siteOf(gateway: Pick<Gateway, "siteId">) {
    const [site] = await this.deps.db.select().from(sites).where(eq(sites.id, gateway.siteId));
    if (!site) throw new NotFoundError("Site");
    return site;
  }

  private async windowOf(gatewayId: string, windowId: string): Promise<MaintenanceWindow> {
    const [window] = await this.deps.db
      .select()
      .from(maintenanceWindows)
      .where(
        and(
          eq(maintenanceWindows.id, checkId(windowId, "Maintenance window")),
          eq(maintenanceWindows.gatewayId, gatewayId),
        ),
      );
    if (!window) throw new NotFoundError("Maintenance window");
    return window;
  }

  private async enabledServices(gatewayId: string) {
    return this.deps.db
      .select({ id: services.id, mode: services.mode })
      .from(services)
      .innerJoin(machines, eq(machines.id, services.machineId))
      .where(and(eq(machines.gatewayId, gatewayId), eq(services.enabled, true)));
  }

  private async checkTechnicians(customerId: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const found = await this.deps.db
      .select({ userId: roleAssignments.userId })
      .from(roleAssignments)
      .where(
        and(
          inArray(roleAssignments.userId, ids),
          eq(roleAssignments.role, "technician"),
          eq(roleAssignments.customerId, customerId),
        ),
      );
    const missing = ids.find((id) => !found.some((f) => f.userId === id));
    if (missing)
      throw new ValidationError("technicians", `${missing} is no technician of this customer`);
  }
}
