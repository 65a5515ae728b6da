// Technicians' remote sessions in the portal: Connect on a machine (a one-time .ovpn for its enabled
// services), the list of sessions in the caller's scope, and Disconnect / Terminate.
import { and, desc, eq, getTableColumns, inArray, ne, sql } from "drizzle-orm";
import { type Context, checkId, inScope, readable, scopeOf } from "../access/index.ts";
import { recordAudit, SYSTEM_ACTOR } from "../audit/index.ts";
import {
  approvalParties,
  type Db,
  gatewaySessions,
  gateways,
  inTransaction,
  machines,
  remoteSessions,
  services,
  sites,
  users,
} from "../db/index.ts";
import { getMachine } from "../masterdata/index.ts";
import {
  type Clock,
  ForbiddenError,
  NotFoundError,
  parseInput,
  StateError,
  ValidationError,
} from "../shared/index.ts";
import type { ServerInstance } from "./data-plane.ts";
import type { SessionEnds } from "./ends.ts";
import type { AccessGate } from "./gate.ts";
import { type RemoteSession, requestInput, type SessionView } from "./model.ts";
import { type ProfilePki, type ServerOf, serverFor } from "./profiles.ts";
import { openGatewaySession } from "./queries.ts";
import { chosenServices, durationOf, grantedServices, technicianProfile } from "./request-rules.ts";
import { allocateTunnelAddress } from "./tunnel.ts";
import type { MaintenanceWindows } from "./windows.ts";

export interface RemoteSessionsDeps {
  db: Db;
  clock: Clock;
  pki: ProfilePki & { policy: { technicianSeconds: number } };
  gate: AccessGate;
  ends: Pick<SessionEnds, "endRemoteSession" | "refreshGateway">;
  instances: ServerInstance[];
  /**
   * `host`: this instance's OpenVPN host; `serverOf`: the server of another instance holding a
   * channel (instances/registry.ts), for configs that must reach *that* kernel.
   */
  vpn: { host: string; remoteSessionSeconds: number; serverOf?: ServerOf };
  /** Maintenance windows that approve matching requests at their creation (absent: none). */
  windows?: Pick<MaintenanceWindows, "matching">;
}

export class RemoteSessions {
  constructor(private readonly deps: RemoteSessionsDeps) {}

  /**
   * A technician pressed Connect on a machine: a remote session for the chosen enabled services
   * (default all) and duration (default the longest the site allows). Under the site's consent
   * policy operator_connect it comes with a one-time .ovpn (returned, never stored) valid until the
   * certificate expires; under customer_approval it is a pending request (profile null): the
   * config is issued only after its approval (`ConsentRequests.issueProfile`). `mode` read_only
   * grants every chosen service as "modbus-read-only" for this session only (400 on `mode` naming
   * a service that is not Modbus/TCP: request-rules.ts grantedServices).
   * Inside an open
   * maintenance window that covers it (technician, services, mode) it is approved at once under
   * any policy, audited as approved by the window, and ends at the window's end at the latest.
   */
  async submit(
    ctx: Context,
    machineId: string,
    input: unknown,
    /**
     * The technician's corporate proxy for their .ovpn (`http-proxy`), checked by the caller;
     * `immediate`: refuse (409) rather than make a request that waits for approval.
     */
    options: { httpProxy?: { host: string; port: number } | null; immediate?: boolean } = {},
  ): Promise<{ session: RemoteSession; profile: string | null }> {
    const { db, clock, pki } = this.deps;
    const machine = await getMachine(ctx, machineId);
    if (!inScope(scopeOf(ctx.caller.principal, "sessions.connect"), machine.customerId)) {
      throw new ForbiddenError("Only technicians of this customer can connect to its machines.");
    }
    const asked = parseInput(requestInput, input);
    const [site] = await db
      .select({
        consentPolicy: sites.consentPolicy,
        maxSessionMinutes: sites.maxSessionMinutes,
        requestExpiryMinutes: sites.requestExpiryMinutes,
        gatewayKind: gateways.kind,
      })
      .from(gateways)
      .innerJoin(sites, eq(sites.id, gateways.siteId))
      .where(eq(gateways.id, machine.gatewayId));
    if (!site) throw new NotFoundError("Site");
    const seconds = durationOf(asked.minutes, site.maxSessionMinutes, this.deps.vpn);
    this.deps.gate.require();
    const gatewaySession = await openGatewaySession(db, machine.gatewayId);
    if (gatewaySession?.state !== "online") {
      throw new StateError(
        "ERR_GATEWAY_OFFLINE",
        "The gateway is offline: the operator at the machine has to press Connect first.",
      );
    }
    const enabled = await db
      .select()
      .from(services)
      .where(and(eq(services.machineId, machine.id), eq(services.enabled, true)));
    if (enabled.length === 0)
      throw new StateError(
        "ERR_NO_ENABLED_SERVICE",
        "This machine has no enabled service: there is nothing to connect to.",
      );
    const granted = grantedServices(
      chosenServices(enabled, asked.services),
      asked.mode,
      site.gatewayKind,
    );
    // The technician's tunnel must meet the gateway's in one kernel: that instance's server.
    const { host, instance } = await serverFor(
      this.deps,
      gatewaySession.instanceId,
      gatewaySession.vpnInstance,
    );
    if (options.httpProxy && instance.protocol !== "tcp")
      throw new ValidationError(
        "proxyHost",
        "this gateway's data channel runs on an OpenVPN server over UDP, which an HTTP proxy cannot carry: connect without the proxy",
      );
    const now = clock.now();
    // Inside an open maintenance window that covers this request it is approved now, by the window.
    const window = await this.deps.windows?.matching({
      gatewayId: machine.gatewayId,
      technicianId: ctx.caller.principal.userId,
      services: granted.map((s) => ({ serviceId: s.serviceId, mode: s.mode ?? "full" })),
      at: now,
    });
    const pending = approvalParties(site.consentPolicy).length > 0 && !window;
    if (options.immediate && pending)
      throw new StateError(
        "ERR_APPROVAL_REQUIRED",
        "This site's requests need an approval first: submit a request that waits for it.",
      );
    // A window's session ends with the window's occurrence, whatever was asked.
    const endsAt = new Date(
      Math.min(now.getTime() + seconds * 1000, window?.occurrence.end.getTime() ?? Infinity),
    );
    const decideBy = new Date(now.getTime() + site.requestExpiryMinutes * 60_000);
    const session = await inTransaction(db, async (tx) => {
      const tunnelAddress = await allocateTunnelAddress(tx, instance.index, instance.tunnelNetwork);
      const [row] = await tx
        .insert(remoteSessions)
        .values({
          customerId: machine.customerId,
          machineId: machine.id,
          gatewaySessionId: gatewaySession.id,
          technicianId: ctx.caller.principal.userId,
          reason: asked.reason,
          ticket: asked.ticket,
          consentPolicy: site.consentPolicy,
          durationSeconds: seconds,
          state: pending ? "pending" : "requested",
          mode: asked.mode,
          services: granted,
          proxyAddress: machine.proxyAddress,
          vpnInstance: instance.index,
          instanceId: gatewaySession.instanceId,
          tunnelAddress,
          requestedAt: now,
          // A pending request has no config and no clock yet: both start at its approval.
          configExpiresAt: pending
            ? decideBy
            : new Date(now.getTime() + pki.policy.technicianSeconds * 1000),
          endsAt: pending ? decideBy : endsAt,
          ...(window ? { windowId: window.window.id, approvedAt: now } : {}),
          decideBy: pending ? decideBy : null,
          clientProxy: options.httpProxy ?? null,
          profileIssuedAt: pending ? null : now,
        })
        .returning();
      if (!row) throw new Error("remote session not stored");
      // Approvers read who asked: the company as it stood when the request was made.
      const [technician] = await tx
        .select({ company: users.company })
        .from(users)
        .where(eq(users.id, ctx.caller.principal.userId));
      await recordAudit(tx, clock, {
        actor: ctx.caller.actor,
        action: "remote_session.request",
        target: { type: "machine", id: machine.id },
        customerId: machine.customerId,
        detail: {
          remoteSessionId: row.id,
          company: technician?.company ?? null,
          reason: asked.reason,
          ...(asked.ticket ? { ticket: asked.ticket } : {}),
          services: row.services.map(
            (s) =>
              `${s.protocol}/${s.port}${s.mode === "modbus-read-only" ? " read-only Modbus" : ""}`,
          ),
          minutes: seconds / 60,
          mode: asked.mode,
          consentPolicy: site.consentPolicy,
          ...(pending
            ? { decideBy: decideBy.toISOString() }
            : { endsAt: row.endsAt.toISOString() }),
        },
      });
      if (window)
        await recordAudit(tx, clock, {
          // The window approved, not the technician: the entry names it; its creator is in detail.
          actor: { ...SYSTEM_ACTOR, name: `maintenance window ${window.window.id}` },
          action: "remote_session.approve",
          target: { type: "machine", id: machine.id },
          customerId: machine.customerId,
          detail: {
            remoteSessionId: row.id,
            technician: ctx.caller.actor.name,
            where: "maintenance window",
            approvedBy: `maintenance window ${window.window.id}, created by ${window.window.createdByName}`,
            windowId: window.window.id,
            windowCreatedBy: window.window.createdByName,
            services: row.services.map((s) => `${s.protocol}/${s.port}`),
            endsAt: row.endsAt.toISOString(),
          },
        });
      return row;
    });
    if (pending) return { session, profile: null };
    const profile = await technicianProfile(pki, host, instance, session);
    // The gateway opens its side for these services now and shows the operator who and why.
    await this.deps.ends.refreshGateway(gatewaySession.id, "remote session requested");
    return { session, profile };
  }

  /**
   * Connect where no approval is needed (consent policy operator_connect): the session and its
   * one-time .ovpn. At a site whose requests need approval: 409, use `submit`.
   */
  async request(
    ctx: Context,
    machineId: string,
    input: unknown,
    options: { httpProxy?: { host: string; port: number } | null } = {},
  ): Promise<{ session: RemoteSession; profile: string }> {
    const { session, profile } = await this.submit(ctx, machineId, input, {
      ...options,
      immediate: true,
    });
    if (profile === null) throw new Error("an immediate Connect made a pending request");
    return { session, profile };
  }

  /** Sessions to machines (and gateways, for maintenance) the caller may read, newest first (200). */
  async list(
    ctx: Context,
    filter: { machineId?: string; open?: boolean; id?: string; gatewayId?: string } = {},
  ): Promise<SessionView[]> {
    const { db } = this.deps;
    return db
      .select({
        ...getTableColumns(remoteSessions),
        machineName: sql<string>`coalesce(${machines.name}, ${gateways.name} || ' (SSH maintenance)')`,
        technicianName: users.displayName,
        technicianCompany: users.company,
        siteId: gateways.siteId,
        gatewayId: gateways.id,
        endedByName: sql<
          string | null
        >`(select ender.display_name from users ender where ender.id = ${remoteSessions.endedBy})`,
      })
      .from(remoteSessions)
      .innerJoin(gatewaySessions, eq(gatewaySessions.id, remoteSessions.gatewaySessionId))
      .innerJoin(gateways, eq(gateways.id, gatewaySessions.gatewayId))
      .leftJoin(machines, eq(machines.id, remoteSessions.machineId))
      .innerJoin(users, eq(users.id, remoteSessions.technicianId))
      .where(
        and(
          readable(ctx.caller, remoteSessions.customerId, (siteIds) =>
            inArray(gateways.siteId, siteIds),
          ),
          filter.gatewayId ? eq(gateways.id, filter.gatewayId) : undefined,
          filter.id ? eq(remoteSessions.id, filter.id) : undefined,
          filter.machineId ? eq(remoteSessions.machineId, filter.machineId) : undefined,
          filter.open ? ne(remoteSessions.state, "ended") : undefined,
        ),
      )
      .orderBy(desc(remoteSessions.requestedAt))
      .limit(200);
  }

  /**
   * Disconnect from the portal: technicians end their own sessions, admins and customer admins any
   * in their scope. Sessions outside the caller's scope answer 404.
   */
  async disconnect(ctx: Context, id: string): Promise<SessionView> {
    const [session] = await this.list(ctx, { id: checkId(id, "Remote session") });
    if (!session) throw new NotFoundError("Remote session");
    const own = session.technicianId === ctx.caller.principal.userId;
    const manages = inScope(
      scopeOf(ctx.caller.principal, "sessions.manage"),
      session.customerId,
      session.siteId,
    );
    if (!own && !manages)
      throw new ForbiddenError("Only the technician or an admin can end this session.");
    // A request waiting for its decision is withdrawn by its technician or decided by an approver
    // (Allow / Deny, audited as such) — never ended by a Terminate.
    if (session.state === "pending" && !own)
      throw new StateError(
        "ERR_REQUEST_PENDING",
        "This request waits for a decision: an approver allows or denies it under Requests waiting for your approval.",
      );
    // The plant's own operator ends it as the operator at the machine would; anyone else as admin.
    const plant = ctx.caller.principal.grants.every(
      (g) => g.role === "operator" || g.role === "technician",
    );
    await this.deps.ends.endRemoteSession(
      session.id,
      own ? "technician" : plant ? "operator" : "admin",
      ctx.caller.actor,
    );
    return session;
  }
}
