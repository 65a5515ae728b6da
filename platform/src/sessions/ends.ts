// How sessions end. Each end is recorded with its audit entry in one transaction, claimed once (a
// disconnect racing the end time finds the session ended); then traffic is cut: grants removed,
// flows forgotten, connections killed, certificates revoked, the gateway told.
import { formatCidr } from "@meetpoint/common";
import { and, count, eq, inArray, isNull, lte, ne, or, type SQL } from "drizzle-orm";
import { type Actor, recordAudit, SYSTEM_ACTOR } from "../audit/index.ts";
import {
  type Db,
  type EndReason,
  type FlowEvidence,
  gatewaySessions,
  gateways,
  inTransaction,
  remoteSessions,
} from "../db/index.ts";
import { grantElement } from "../firewall/index.ts";
import type { GatewayCommands } from "../gateways/index.ts";
import { blockOf, type ProxyPool } from "../masterdata/index.ts";
import type { Pki } from "../pki/index.ts";
import type { Clock } from "../shared/index.ts";
import type { DataPlane } from "./data-plane.ts";
import { carryOut, type Effect } from "./effects.ts";
import { nextState } from "./lifecycle.ts";
import { type GatewaySession, grantsOf, type RemoteSession, timesOf } from "./model.ts";
import {
  auditTargetOf,
  gatewaySessionById,
  openRemoteSessionIds,
  remoteSessionById,
  revokedSessions,
  workstationMachine,
} from "./queries.ts";
import {
  type CloseReason,
  closeAfterEnd,
  closeReasonText,
  endReasonOf,
  operatorMustReconnect,
} from "./reasons.ts";
import { endsWithItsWindow } from "./window-queries.ts";

/** A request that was denied or expired is audited as such; every other end as an end. */
function endAction(reason: EndReason) {
  if (reason === "denied") return "remote_session.deny" as const;
  if (reason === "request_expired") return "remote_session.expire" as const;
  return "remote_session.end" as const;
}

export interface SessionEndsDeps {
  db: Db;
  clock: Clock;
  pki: Pick<Pki, "revoke">;
  dataPlane: DataPlane;
  commands: Pick<GatewayCommands, "send">;
  proxyPool: ProxyPool;
  /**
   * This platform instance (instances/registry.ts): its kernel holds only its own sessions'
   * tunnels and grants, so it cuts only those there and ends on time only those. Unset: the one
   * and only instance.
   */
  instanceId?: string | null;
  /** Asks the instance holding a session's tunnel to cut it (sessions/cuts.ts); unset: one instance. */
  cuts?: { ask(instanceId: string, what: CutRequest): Promise<void>; cutHere(id: string): void };
  log?: (line: string) => void;
}

/** A session whose end was recorded elsewhere: its tunnel's instance cuts it. */
export type CutRequest = { remoteSessionId: string } | { gatewaySessionId: string };

/** Rows of `table` whose tunnel this instance holds (or of no instance: from before instances). */
function heldHere(
  table: typeof gatewaySessions | typeof remoteSessions,
  instanceId: string | null | undefined,
): SQL | undefined {
  if (!instanceId) return undefined;
  return or(isNull(table.instanceId), eq(table.instanceId, instanceId));
}

export class SessionEnds {
  constructor(private readonly deps: SessionEndsDeps) {}

  /** Whether this instance's kernel holds the session's tunnel and grants. */
  private isHere(session: { instanceId: string | null }): boolean {
    const here = this.deps.instanceId;
    return !here || session.instanceId === null || session.instanceId === here;
  }

  /**
   * Ends a remote session for `reason`. Under the consent policy operator_connect a technician's or
   * admin's end closes the data channel too; under customer_approval it ends this session only,
   * unless it was the channel's last (then only the operator re-arms, as always).
   * A request never approved closes nothing. `detail` is added to the audit entry (e.g. where a
   * denial was made); with `onlyIfPending` it ends only a request still waiting for its decision
   * (a denial racing an approval). Returns whether this call ended it.
   */
  async endRemoteSession(
    id: string,
    reason: EndReason,
    actor: Actor,
    detail: Record<string, string> = {},
    options: { onlyIfPending?: boolean } = {},
  ): Promise<boolean> {
    const session = await remoteSessionById(this.deps.db, id);
    if (!session || session.state === "ended") return false;
    if (options.onlyIfPending && session.state !== "pending") return false;
    const transition = nextState(timesOf(session), {
      type: "end",
      reason,
      at: this.deps.clock.now(),
    });
    // The end is recorded either way; a step of the cut that failed is surfaced after the data
    // channel's close, which must not wait for it (only the operator re-arms).
    let ended = false;
    const cut = await this.finish(
      session,
      transition.session.endReason ?? reason,
      actor,
      transition.session.endedAt,
      detail,
      options.onlyIfPending ? "pending" : null,
    ).then(
      (claimed) => {
        ended = claimed;
        return null;
      },
      (error: unknown) => error,
    );
    if (!ended && !cut) return false;
    const [others] = await this.deps.db
      .select({ n: count() })
      .from(remoteSessions)
      .where(
        and(
          eq(remoteSessions.gatewaySessionId, session.gatewaySessionId),
          ne(remoteSessions.state, "ended"),
        ),
      );
    // A request nobody approved never opened anything: its end takes nothing from the plant.
    const close =
      session.state === "pending"
        ? null
        : closeAfterEnd(reason, session.consentPolicy, (others?.n ?? 0) > 0);
    if (close) await this.closeGatewaySession(session.gatewaySessionId, close, actor);
    else await this.refreshGateway(session.gatewaySessionId, `remote session ended: ${reason}`);
    if (cut) throw cut;
    return true;
  }

  /** Tells a gateway to fetch its state now (a remote session through it began, changed or ended). */
  async refreshGateway(gatewaySessionId: string, reason: string): Promise<void> {
    const channel = await gatewaySessionById(this.deps.db, gatewaySessionId);
    if (channel)
      await this.deps.commands.send(channel.gatewayId, {
        command: "refresh",
        reason,
        gatewaySessionId,
      });
  }

  /**
   * Records the end of `session` (once) with its flow evidence, then cuts its traffic; with
   * `onlyIn` only while it is still in that state. Returns whether this call recorded the end.
   */
  async finish(
    session: RemoteSession,
    asked: EndReason,
    actor: Actor,
    at: Date | null,
    detail: Record<string, string> = {},
    onlyIn: RemoteSession["state"] | null = null,
  ): Promise<boolean> {
    const { db, clock, dataPlane } = this.deps;
    // An end time that was its maintenance window's end is said as such, not as the session's own.
    const reason =
      asked === "expiry" && (await endsWithItsWindow(db, session)) ? "window_ended" : asked;
    // Another instance's session has nothing in this kernel to cut (that instance cuts it).
    const on = dataPlane.status().on && this.isHere(session);
    const active = session.state === "active" && on;
    const evidence = active ? await this.evidence(session) : null;
    const target = await auditTargetOf(db, session);
    const claimed = await inTransaction(db, async (tx) => {
      const rows = await tx
        .update(remoteSessions)
        .set({
          state: "ended",
          endedAt: at ?? clock.now(),
          endReason: reason,
          endedBy: actor.id,
          flowEvidence: evidence,
        })
        .where(
          and(
            eq(remoteSessions.id, session.id),
            onlyIn ? eq(remoteSessions.state, onlyIn) : ne(remoteSessions.state, "ended"),
          ),
        )
        .returning({ id: remoteSessions.id, modbusEvidence: remoteSessions.modbusEvidence });
      const [row] = rows;
      if (!row) return false;
      // Read-only Modbus counts as the gateway last reported them (at most a heartbeat old; what
      // arrives later is audited as remote_session.modbus_evidence).
      const readOnly = session.services.some((s) => s.mode === "modbus-read-only");
      await recordAudit(tx, clock, {
        actor,
        action: endAction(reason),
        target,
        customerId: session.customerId,
        detail: {
          remoteSessionId: session.id,
          reason,
          ...detail,
          flowEvidence: evidence ?? [],
          bytesIn: session.bytesIn,
          bytesOut: session.bytesOut,
          ...(readOnly || row.modbusEvidence ? { modbusEvidence: row.modbusEvidence } : {}),
        },
      });
      return true;
    });
    if (!claimed) return false;
    if (this.isHere(session)) this.deps.cuts?.cutHere(session.id);
    await carryOut(
      [
        ...this.remoteCutSteps(session, active),
        {
          step: "revoke the session's certificate",
          run: () =>
            this.deps.pki.revoke({ ownerId: session.id }, `remote session ended: ${reason}`),
        },
      ],
      this.deps.log,
    );
    // The kernel holding it is another instance's: that instance cuts it (sessions/cuts.ts).
    if (!this.isHere(session) && session.instanceId && reason !== "instance_lost")
      await this.deps.cuts?.ask(session.instanceId, { remoteSessionId: session.id });
    return true;
  }

  /**
   * What cutting an ended remote session takes from this kernel: its grants, its established
   * flows and its OpenVPN connection (`active`: it had connected). Empty for another instance's.
   */
  remoteCutSteps(session: RemoteSession, active: boolean): Effect[] {
    const { dataPlane } = this.deps;
    if (!dataPlane.status().on || !this.isHere(session)) return [];
    const connection = session.connection;
    const steps: Effect[] = [
      // Removing is idempotent: a session ended before its grants landed loses them too.
      { step: "remove firewall grants", run: () => dataPlane.changeGrants([], grantsOf(session)) },
    ];
    if (active)
      steps.push({
        step: "forget established flows (conntrack)",
        run: () =>
          dataPlane.forgetFlows([
            { technicianAddress: session.tunnelAddress, proxyAddress: session.proxyAddress },
          ]),
      });
    if (active && connection !== null)
      steps.push({
        step: `end OpenVPN connection ${connection}`,
        run: () => dataPlane.disconnect(connection),
      });
    return steps;
  }

  /**
   * What closing a data channel takes from this kernel: its OpenVPN connection and the route of
   * its proxy block (or a workstation's translation). Empty for another instance's channel.
   */
  async channelCutSteps(session: GatewaySession): Promise<Effect[]> {
    const { db, dataPlane } = this.deps;
    const connection = session.connection;
    if (!connection || !dataPlane.status().on || !this.isHere(session)) return [];
    const effects: Effect[] = [
      { step: `end OpenVPN connection ${connection}`, run: () => dataPlane.disconnect(connection) },
    ];
    const [gateway] = await db.select().from(gateways).where(eq(gateways.id, session.gatewayId));
    const machine =
      gateway?.kind === "workstation" ? await workstationMachine(db, gateway.id) : null;
    // A newer channel of the gateway already online here holds the route (or translation) now —
    // e.g. the gateway reconnected before an end recorded on another instance reached this one.
    const unlessReplaced = (run: () => Promise<void>) => async () => {
      if (!(await this.newerChannelHere(session))) await run();
    };
    if (machine)
      effects.push({
        step: `stop translating ${machine.proxyAddress} to the workstation`,
        run: unlessReplaced(() => dataPlane.translateWorkstation(machine.proxyAddress, null)),
      });
    else if (gateway) {
      const block = formatCidr(blockOf(this.deps.proxyPool, gateway.proxyBlock));
      effects.push({
        step: `remove the route of ${block}`,
        run: unlessReplaced(() => dataPlane.routeProxyBlock(block, null)),
      });
    }
    return effects;
  }

  /** Whether another data channel of `session`'s gateway is online in this instance's kernel. */
  private async newerChannelHere(session: GatewaySession): Promise<boolean> {
    const rows = await this.deps.db
      .select({ id: gatewaySessions.id })
      .from(gatewaySessions)
      .where(
        and(
          eq(gatewaySessions.gatewayId, session.gatewayId),
          ne(gatewaySessions.id, session.id),
          eq(gatewaySessions.state, "online"),
          heldHere(gatewaySessions, this.deps.instanceId),
        ),
      )
      .limit(1);
    return rows.length > 0;
  }

  /** Per granted service, packets and bytes the firewall counted; null where it could not say. */
  private async evidence(session: RemoteSession): Promise<FlowEvidence[]> {
    const counters = await this.deps.dataPlane.grantCounters().catch((error) => {
      (this.deps.log ?? console.error)(
        `flow evidence of remote session ${session.id} is missing: the firewall's counters could not be read: ${String(error)}`,
      );
      return new Map<string, { packets: number; bytes: number }>();
    });
    return grantsOf(session).map((g) => ({
      protocol: g.protocol,
      port: g.port,
      ...(counters.get(grantElement(g)) ?? { packets: null, bytes: null }),
    }));
  }

  /** Closes a gateway's data channel (recorded and audited at once); its remote sessions end with it. */
  async closeGatewaySession(id: string, reason: CloseReason, actor: Actor): Promise<void> {
    const { db, clock } = this.deps;
    const session = await gatewaySessionById(db, id);
    if (!session || session.state === "closed") return;
    const claimed = await inTransaction(db, async (tx) => {
      const rows = await tx
        .update(gatewaySessions)
        .set({ state: "closed", closedAt: clock.now(), closeReason: reason })
        .where(and(eq(gatewaySessions.id, id), ne(gatewaySessions.state, "closed")))
        .returning({ id: gatewaySessions.id });
      if (rows.length === 0) return false;
      await recordAudit(tx, clock, {
        actor,
        action: "gateway_session.close",
        target: { type: "gateway", id: session.gatewayId },
        customerId: session.customerId,
        detail: { gatewaySessionId: session.id, reason },
      });
      return true;
    });
    if (!claimed) return;
    if (this.isHere(session)) this.deps.cuts?.cutHere(session.id);
    const effects: Effect[] = (await openRemoteSessionIds(db, id)).map((remote) => ({
      step: `end remote session ${remote}`,
      run: () => this.endRemoteSession(remote, endReasonOf(reason), actor),
      attempts: 1,
    }));
    effects.push(...(await this.channelCutSteps(session)));
    if (!this.isHere(session) && session.instanceId && reason !== "instance_lost")
      effects.push({
        step: `ask instance ${session.instanceId} to cut the data channel`,
        run: async () => {
          await this.deps.cuts?.ask(session.instanceId ?? "", { gatewaySessionId: session.id });
        },
      });
    effects.push({
      step: "revoke the data channel's certificate",
      run: () => this.deps.pki.revoke({ ownerId: session.id }, `gateway session closed: ${reason}`),
    });
    if (reason !== "operator")
      effects.push({
        step: "tell the gateway",
        run: () =>
          this.deps.commands.send(session.gatewayId, {
            command: operatorMustReconnect(reason) ? "disconnect" : "refresh",
            reason: closeReasonText(reason),
            gatewaySessionId: session.id,
          }),
      });
    await carryOut(effects, this.deps.log);
  }

  /**
   * Ends every remote session whose end time (or unused config's expiry) has passed or whose
   * technician may no longer connect, and renews every data channel whose lifetime has passed
   * (the gateway connects a new one by itself). Runs every second.
   */
  async endDue(): Promise<void> {
    const now = this.deps.clock.now();
    const here = this.deps.instanceId;
    const aged = await this.deps.db
      .select({ id: gatewaySessions.id })
      .from(gatewaySessions)
      .where(
        and(
          ne(gatewaySessions.state, "closed"),
          lte(gatewaySessions.endsAt, now),
          heldHere(gatewaySessions, here),
        ),
      );
    for (const channel of aged) await this.closeGatewaySession(channel.id, "renewal", SYSTEM_ACTOR);
    // Access ends with the user: disabled, or without the role for that customer any more.
    const revoked = await revokedSessions(this.deps.db);
    const revokedHere =
      here && revoked.length > 0
        ? (
            await this.deps.db
              .select({ id: remoteSessions.id })
              .from(remoteSessions)
              .where(and(inArray(remoteSessions.id, revoked), heldHere(remoteSessions, here)))
          ).map((r) => r.id)
        : revoked;
    for (const id of revokedHere) await this.endRemoteSession(id, "access_revoked", SYSTEM_ACTOR);
    const due = await this.deps.db
      .select()
      .from(remoteSessions)
      .where(
        and(
          ne(remoteSessions.state, "ended"),
          or(lte(remoteSessions.configExpiresAt, now), lte(remoteSessions.endsAt, now)),
          heldHere(remoteSessions, here),
        ),
      );
    for (const session of due) {
      const transition = nextState(timesOf(session), { type: "tick", at: now });
      if (transition.changed)
        await this.finish(
          session,
          transition.session.endReason ?? "expiry",
          SYSTEM_ACTOR,
          transition.session.endedAt,
        );
    }
  }

  /**
   * At start and shutdown (and after a database loss): nothing open on this instance survives
   * (other instances' sessions are theirs). Returns how many.
   */
  async endAll(reason: "platform_shutdown" | "database_lost"): Promise<number> {
    return this.endAllOf(this.deps.instanceId ?? null, reason);
  }

  /**
   * Ends every open session of `instanceId` (null: of every instance) for `reason`: this
   * instance's at its start and stop, a lost instance's (`instance_lost`) by a survivor.
   * Returns how many.
   */
  async endAllOf(
    instanceId: string | null,
    reason: "platform_shutdown" | "database_lost" | "instance_lost",
  ): Promise<number> {
    const { db } = this.deps;
    const lost = reason === "instance_lost" && instanceId !== null;
    const ofGateway = lost
      ? eq(gatewaySessions.instanceId, instanceId)
      : heldHere(gatewaySessions, instanceId);
    const ofRemote = lost
      ? eq(remoteSessions.instanceId, instanceId)
      : heldHere(remoteSessions, instanceId);
    const open = await db
      .select({ id: gatewaySessions.id })
      .from(gatewaySessions)
      .where(and(ne(gatewaySessions.state, "closed"), ofGateway));
    for (const session of open) await this.closeGatewaySession(session.id, reason, SYSTEM_ACTOR);
    const orphans = await db
      .select({ id: remoteSessions.id })
      .from(remoteSessions)
      .where(and(ne(remoteSessions.state, "ended"), ofRemote));
    for (const session of orphans) await this.endRemoteSession(session.id, reason, SYSTEM_ACTOR);
    return open.length + orphans.length;
  }

  /**
   * One of this platform instance's OpenVPN servers crashed: its connections are gone, so are
   * their sessions (another instance's server with the same index is not touched).
   */
  async endAllOnInstance(instance: number): Promise<void> {
    const { db } = this.deps;
    const gatewaysOn = (
      await db
        .select({ id: gatewaySessions.id, instanceId: gatewaySessions.instanceId })
        .from(gatewaySessions)
        .where(and(eq(gatewaySessions.vpnInstance, instance), ne(gatewaySessions.state, "closed")))
    ).filter((session) => this.isHere(session));
    for (const session of gatewaysOn)
      await this.closeGatewaySession(session.id, "vpn_failure", SYSTEM_ACTOR);
    const remotes = (
      await db
        .select({ id: remoteSessions.id, instanceId: remoteSessions.instanceId })
        .from(remoteSessions)
        .where(and(eq(remoteSessions.vpnInstance, instance), ne(remoteSessions.state, "ended")))
    ).filter((session) => this.isHere(session));
    for (const session of remotes)
      await this.endRemoteSession(session.id, "vpn_failure", SYSTEM_ACTOR);
  }
}
