// A gateway's heartbeat: the platform records that it is alive and how it is, and answers with
// what the gateway must know — its data channel's state and the remote sessions it must let through.
import type { HeartbeatReport, HeartbeatResponse } from "@meetpoint/common";
import { and, desc, eq, notInArray } from "drizzle-orm";
import {
  type AgentReport,
  type Db,
  gatewaySessions,
  gateways,
  machines,
  remoteSessions,
  users,
} from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import { pendingRequestsFor } from "./gateway-consent.ts";
import type { HeartbeatKnown } from "./heartbeat-read.ts";
import { recordModbusEvidence } from "./modbus-evidence.ts";
import { closeReasonText, operatorMustReconnect } from "./reasons.ts";
import type { MaintenanceWindows } from "./windows.ts";

type Gateway = typeof gateways.$inferSelect;

/** What the gateway API works out from the report and keeps in the same write (phase, enrollment). */
export type HeartbeatKept = Pick<AgentReport, "phase" | "phaseSince" | "enrolledWith">;
type GrantedServices = (typeof remoteSessions.$inferSelect)["services"];

/**
 * A session's services as this agent must learn them. An agent that filters read-only Modbus gets
 * every service with its mode; an older agent (no "modbus-read-only" capability) would forward a
 * read-only service in full, and refuses a field it does not know — so it gets the full services
 * only, without the field, and a read-only service stays closed at its gateway (fail closed).
 */
export function servicesFor(services: GrantedServices, filters: boolean) {
  return services.flatMap((s) => {
    const mode = s.mode ?? "full";
    if (!filters)
      return mode === "full" ? [{ name: s.name, protocol: s.protocol, port: s.port }] : [];
    return [{ name: s.name, protocol: s.protocol, port: s.port, mode }];
  });
}

/** How often an unchanged report still refreshes lastSeenAt, in ms (reach calls 60 s silent). */
export const SEEN_REFRESH_MS = 20_000;
/** A clock offset that moved by less than this, in ms, is not news (the clock check's unit is seconds). */
const OFFSET_NEWS_MS = 500;

/**
 * Whether a heartbeat's report must be written: it differs from the stored one (the clock offset
 * by OFFSET_NEWS_MS or more), or lastSeenAt is SEEN_REFRESH_MS old. Liveness is not a committed
 * row update per beat: an unchanged gateway costs one write per SEEN_REFRESH_MS, not per beat.
 */
export function isNews(
  stored: Pick<Gateway, "agent" | "lastSeenAt">,
  agent: AgentReport,
  now: Date,
): boolean {
  const before = stored.agent;
  if (!before || !stored.lastSeenAt) return true;
  if (now.getTime() - stored.lastSeenAt.getTime() >= SEEN_REFRESH_MS) return true;
  if (Math.abs(before.clockOffsetMs - agent.clockOffsetMs) >= OFFSET_NEWS_MS) return true;
  const keys = new Set([...Object.keys(before), ...Object.keys(agent)]);
  keys.delete("clockOffsetMs");
  for (const key of keys) {
    const a = before[key as keyof AgentReport];
    const b = agent[key as keyof AgentReport];
    if (JSON.stringify(a ?? null) !== JSON.stringify(b ?? null)) return true;
  }
  return false;
}

/**
 * Records a gateway's report (alive, state, versions, clock, the Modbus filter's counts) and
 * answers what it must know; the gateway API adds the signed settings (gateways/settings.ts).
 * `known`: what the request's credentials read found (sessions/heartbeat-read.ts); the reads it
 * makes unnecessary are skipped, the answer is the same.
 */
export async function heartbeat(
  deps: { db: Db; clock: Clock; windows?: Pick<MaintenanceWindows, "upcoming"> },
  gateway: Gateway,
  report: HeartbeatReport,
  ip: string | null,
  kept: HeartbeatKept = {},
  known?: HeartbeatKnown,
): Promise<Omit<HeartbeatResponse, "settings">> {
  const { db, clock } = deps;
  const now = clock.now();
  const agent: AgentReport = {
    state: report.state,
    agentVersion: report.agentVersion,
    openvpnVersion: report.openvpnVersion,
    clockOffsetMs: new Date(report.localTime).getTime() - now.getTime(),
    lastError: report.lastError,
    ip,
    settingsVersion: report.settingsVersion,
    sshHostKey: report.sshHostKey,
    ...kept,
    capabilities: report.capabilities,
  };
  if (isNews(gateway, agent, now))
    await db.update(gateways).set({ lastSeenAt: now, agent }).where(eq(gateways.id, gateway.id));
  await recordModbusEvidence(deps, gateway, report.modbusEvidence, ip);
  const filters = report.capabilities.includes("modbus-read-only");

  // The channel the gateway asks about, else its newest one: the request's first read found the
  // newest, which is the answer whenever the gateway asks about that one or none.
  const asked = report.gatewaySessionId;
  const [channel] =
    known && (asked === null || (known.channel !== null && known.channel.id === asked))
      ? known.channel
        ? [known.channel]
        : []
      : await db
          .select()
          .from(gatewaySessions)
          .where(
            and(
              eq(gatewaySessions.gatewayId, gateway.id),
              report.gatewaySessionId ? eq(gatewaySessions.id, report.gatewaySessionId) : undefined,
            ),
          )
          .orderBy(desc(gatewaySessions.requestedAt))
          .limit(1);

  const open =
    channel && channel.state !== "closed"
      ? await db
          .select({
            session: remoteSessions,
            machine: machines.name,
            lanAddress: machines.lanAddress,
            technician: users.displayName,
          })
          .from(remoteSessions)
          .leftJoin(machines, eq(machines.id, remoteSessions.machineId))
          .innerJoin(users, eq(users.id, remoteSessions.technicianId))
          .where(
            and(
              eq(remoteSessions.gatewaySessionId, channel.id),
              // A pending request opens nothing at the gateway until it is approved.
              notInArray(remoteSessions.state, ["ended", "pending"]),
            ),
          )
      : [];

  // Only an agent that shows requests learns them (an older one refuses a field it does not know).
  const pendingRequests = report.capabilities.includes("consent-requests")
    ? {
        pendingRequests:
          known?.mayHavePendingRequests === false ? [] : await pendingRequestsFor(deps, gateway.id),
      }
    : {};
  // An agent that arms for windows learns the coming day's occurrences; an older one would refuse.
  const windows =
    deps.windows && report.capabilities.includes("maintenance-windows")
      ? {
          maintenanceWindows: (known?.mayHaveWindows === false
            ? []
            : await deps.windows.upcoming(gateway.id)
          ).map((w) => ({
            id: w.id,
            start: w.start.toISOString(),
            end: w.end.toISOString(),
            reason: w.reason,
            createdBy: w.createdBy,
          })),
        }
      : {};
  return {
    ...pendingRequests,
    ...windows,
    serverTime: now.toISOString(),
    dataChannel: channel
      ? {
          gatewaySessionId: channel.id,
          state: channel.state,
          closeReason: channel.closeReason && closeReasonText(channel.closeReason),
          operatorMustReconnect: operatorMustReconnect(channel.closeReason),
        }
      : null,
    // Sessions to the machines behind a connect gateway (a workstation's own has no LAN address).
    remoteSessions: open.flatMap(({ session, machine, lanAddress, technician }) =>
      session.kind !== "machine" || lanAddress === null || machine === null
        ? []
        : [
            {
              id: session.id,
              state: session.state === "active" ? "active" : "requested",
              technician,
              reason: session.reason,
              machine,
              proxyAddress: session.proxyAddress,
              lanAddress,
              services: servicesFor(session.services, filters),
              ...(filters ? { technicianAddress: session.tunnelAddress } : {}),
              since: (session.activatedAt ?? session.requestedAt).toISOString(),
              until: session.endsAt.toISOString(),
            },
          ],
    ),
    // Platform admins' maintenance sessions to the gateway's own SSH server (tcp/22 on its tunnel).
    maintenanceSessions: open.flatMap(({ session, technician }) =>
      session.kind !== "maintenance"
        ? []
        : [
            {
              id: session.id,
              technician,
              reason: session.reason,
              since: (session.activatedAt ?? session.requestedAt).toISOString(),
              until: session.endsAt.toISOString(),
            },
          ],
    ),
  };
}
