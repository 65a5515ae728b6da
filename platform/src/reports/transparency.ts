// The transparency report of an ended remote session: who connected, why, under which consent,
// what was reached and how much traffic went to each service, how it ended, and which audit
// entries (a range of the hash chain) record it. Read from the session and the audit log only.
import { and, asc, eq, sql } from "drizzle-orm";
import { inScope, type Principal, scopeOf } from "../access/index.ts";
import {
  auditEntries,
  customers,
  type Db,
  gatewaySessions,
  gateways,
  identityProviders,
  type ModbusEvidence,
  maintenanceWindows,
  sites,
  users,
} from "../db/index.ts";
import { approvalsOf, type EndReason, type SessionView } from "../sessions/index.ts";
import { type Clock, StateError } from "../shared/index.ts";

/** What the signed file's payload says it is (the JWS payload's `typ`). */
export const REPORT_TYPE = "meetpoint-transparency-report";

/** Why a session ended, in the customer's words (one per END_REASONS value). */
export const END_REASON_TEXT: Record<EndReason, string> = {
  technician: "the technician disconnected",
  admin: "an admin terminated it",
  operator: "the operator at the machine ended it",
  expiry: "its end time passed",
  config_unused: "the one-time config was never used before it expired",
  gateway_lost: "the gateway's data channel went away",
  channel_closed:
    "another technician's disconnect (or an admin's end) closed the gateway's data channel; the operator had to connect again",
  platform_shutdown: "the platform stopped or restarted",
  vpn_failure: "the OpenVPN server carrying it failed",
  database_lost: "the platform lost its database and cut all access",
  access_revoked: "the technician lost the right to connect to this customer",
  denied: "an approver denied the request",
  request_expired: "nobody decided the request in time",
  window_cancelled: "the maintenance window that approved it was cancelled",
  window_ended: "the maintenance window that approved it ended",
  instance_lost: "the platform instance holding its tunnel stopped answering",
};

/** One granted service with what the platform's firewall counted for it over the whole session. */
export interface ReportedService {
  name: string;
  protocol: "tcp" | "udp";
  port: number;
  mode: "full" | "modbus-read-only";
  /** Packets and bytes (both directions) the firewall counted; null: its counters were not read. */
  packets: number | null;
  bytes: number | null;
  /** Whether any packet reached it; null when the counters are missing. */
  reached: boolean | null;
}

/** An audit entry of the session: its place and hash in the chain. */
export interface ReportedAuditEntry {
  seq: number;
  at: string;
  action: string;
  result: string;
  prevHash: string;
  hash: string;
}

/** The report's content (times: ISO 8601 UTC; bytes: octets; durations: seconds). */
export interface TransparencyReport {
  typ: typeof REPORT_TYPE;
  version: 1;
  generatedAt: string;
  session: {
    id: string;
    kind: "machine" | "maintenance";
    reason: string;
    /** What the request asked for: full access, or read-only (Modbus/TCP reads only). */
    mode: "full" | "read_only";
    requestedAt: string;
    activatedAt: string | null;
    /** The scheduled cut, had nobody ended it earlier. */
    endsAt: string;
    endedAt: string;
    endReason: EndReason;
    endReasonText: string;
    endedBy: string | null;
    /** From activation (or request, if never activated) to the end. */
    durationSeconds: number;
  };
  technician: {
    id: string;
    username: string;
    name: string;
    /**
     * The technician's company as the request recorded it (or, for a request from before it was
     * recorded, as the user record says now); null: not recorded.
     */
    company: string | null;
    /** Only when company is null: why there is none. */
    companyNote?: string;
    /** "local account", or the identity provider the account signs in through. */
    signsInThrough: string;
  };
  customer: { id: string; name: string };
  site: { id: string; name: string };
  gateway: { id: string; name: string };
  /** Null for an SSH maintenance session (it reaches the gateway itself). */
  machine: { id: string; name: string } | null;
  consent: {
    /**
     * The site's consent policy when the technician connected: the operator's Connect opens the
     * gateway; the operator at the machine, a customer approver in the portal, or both (two-party)
     * allow each request.
     */
    policy: "operator-connect" | "operator-approval" | "customer-approval" | "two-party";
    approvals: { by: string; at: string; where: string }[];
    statement: string;
    /** The operator's Connect: the gateway's data channel this session went through. */
    dataChannel: {
      id: string;
      requestedAt: string;
      onlineAt: string | null;
      closedAt: string | null;
      closeReason: string | null;
    };
  };
  services: ReportedService[];
  /** The technician's OpenVPN connection, all services together (as OpenVPN counted). */
  tunnel: { bytesIn: number; bytesOut: number };
  /** The read-only Modbus filter's counts as the gateway last reported them; null: none reported. */
  modbus: ModbusEvidence | null;
  /** The audit entries about this session, oldest first, and the hash range they span. */
  audit: {
    entries: ReportedAuditEntry[];
    first: { seq: number; prevHash: string; hash: string } | null;
    last: { seq: number; hash: string } | null;
  };
}

const iso = (d: Date) => d.toISOString();

/**
 * Whether `principal` may read the report of a session of `customerId` on `siteId`: auditors and
 * customer admins of the customer (audit.read), its operators — of the customer or of that site —
 * (sessions.manage), platform admins and auditors. Technicians may not, even of the same customer.
 */
export function mayReadReport(
  principal: Principal,
  session: { customerId: string; siteId: string },
): boolean {
  return (
    inScope(scopeOf(principal, "audit.read"), session.customerId) ||
    inScope(scopeOf(principal, "sessions.manage"), session.customerId, session.siteId)
  );
}

/**
 * The report of `session` (found through the caller's scoped session list). Throws StateError
 * ERR_SESSION_NOT_ENDED (409) while the session is still requested or active: traffic, end and
 * audit range are only final at the end.
 */
export async function transparencyReport(
  deps: { db: Db; clock: Clock },
  session: SessionView,
): Promise<TransparencyReport> {
  const { db, clock } = deps;
  if (session.state !== "ended" || !session.endedAt || !session.endReason)
    throw new StateError(
      "ERR_SESSION_NOT_ENDED",
      `This remote session is still ${session.state === "active" ? "connected" : "waiting for the technician's client"}: its transparency report is made when it has ended.`,
    );
  const [people, places, channels, entries] = await Promise.all([
    db
      .select({
        id: users.id,
        username: users.username,
        name: users.displayName,
        company: users.company,
        provider: identityProviders.displayName,
      })
      .from(users)
      .leftJoin(identityProviders, eq(identityProviders.id, users.identityProviderId))
      .where(eq(users.id, session.technicianId)),
    db
      .select({ customer: customers.name, site: sites.name, gateway: gateways.name })
      .from(gateways)
      .innerJoin(sites, eq(sites.id, gateways.siteId))
      .innerJoin(customers, eq(customers.id, sites.customerId))
      .where(eq(gateways.id, session.gatewayId)),
    db.select().from(gatewaySessions).where(eq(gatewaySessions.id, session.gatewaySessionId)),
    sessionEntries(db, session.id),
  ]);
  const technician = people[0];
  const place = places[0];
  const channel = channels[0];
  if (!technician || !place || !channel)
    throw new Error(`transparency report of remote session ${session.id}: its records are gone`);
  const nameOf = async (id: string | null) =>
    id
      ? ((await db.select({ name: users.displayName }).from(users).where(eq(users.id, id)))[0]
          ?.name ?? id)
      : null;
  const company = await requestedCompany(db, session.id, technician.company);
  const endedBy = await nameOf(session.endedBy);
  const approvedBy = await nameOf(session.approvedBy);
  const approval = session.consentPolicy === "customer_approval";
  // Every party's approval as recorded (who, where, when); a request from before approvals were
  // recorded per party names its approver only.
  const recorded = await approvalsOf(db, session.id);
  // A request inside a maintenance window was approved by the window, at its request; the report
  // names who made the window, so the customer sees who pre-approved.
  const windowRow = session.windowId
    ? (
        await db
          .select({ by: maintenanceWindows.createdByName, origin: maintenanceWindows.origin })
          .from(maintenanceWindows)
          .where(eq(maintenanceWindows.id, session.windowId))
      )[0]
    : undefined;
  const approvals =
    session.approvedAt && session.windowId
      ? [
          {
            by: `maintenance window ${session.windowId}${windowRow ? `, created by ${windowRow.by} (${windowRow.origin === "gateway" ? "on the gateway" : "in the portal"})` : ""}`,
            at: iso(session.approvedAt),
            where: "maintenance window",
          },
        ]
      : recorded.length > 0
        ? recorded.map((a) => ({ by: a.by, at: iso(a.at), where: a.where }))
        : session.approvedAt && approvedBy
          ? [{ by: approvedBy, at: iso(session.approvedAt), where: "portal" }]
          : [];
  const byGateway =
    session.consentPolicy === "operator_approval" || session.consentPolicy === "two_party";
  const from = session.activatedAt ?? session.requestedAt;
  const first = entries[0];
  const last = entries.at(-1);
  return {
    typ: REPORT_TYPE,
    version: 1,
    generatedAt: iso(clock.now()),
    session: {
      id: session.id,
      kind: session.kind,
      reason: session.reason,
      mode: session.mode,
      requestedAt: iso(session.requestedAt),
      activatedAt: session.activatedAt ? iso(session.activatedAt) : null,
      endsAt: iso(session.endsAt),
      endedAt: iso(session.endedAt),
      endReason: session.endReason,
      endReasonText: END_REASON_TEXT[session.endReason],
      endedBy,
      durationSeconds: Math.max(0, Math.round((session.endedAt.getTime() - from.getTime()) / 1000)),
    },
    technician: {
      id: technician.id,
      username: technician.username,
      name: technician.name,
      company,
      ...(company === null
        ? {
            companyNote:
              "no company is recorded for this user (a platform admin sets it in the user form, or the identity provider's company claim at sign-in); the identity provider below is the organisation that vouches for the account",
          }
        : {}),
      signsInThrough: technician.provider
        ? `identity provider ${technician.provider}`
        : "local account",
    },
    customer: { id: session.customerId, name: place.customer },
    site: { id: session.siteId, name: place.site },
    gateway: { id: session.gatewayId, name: place.gateway },
    machine: session.machineId ? { id: session.machineId, name: session.machineName } : null,
    consent: {
      policy: session.consentPolicy.replace("_", "-") as TransparencyReport["consent"]["policy"],
      approvals,
      statement: session.windowId
        ? `Allowed by ${approvals[0]?.by ?? "a maintenance window"} at its request: the window, made ahead by the operator or a customer approver, pre-approved this technician and these services until its end.`
        : byGateway
          ? session.approvedAt
            ? `Allowed under the site's policy (${session.consentPolicy === "two_party" ? "the operator at the machine and a customer approver both allow" : "the operator at the machine allows"} each request) by ${approvals.map((a) => `${a.by} (${a.where})`).join(" and ")}; the session's time counted from the last approval.`
            : `Requested under the site's policy (${session.consentPolicy === "two_party" ? "two-party approval" : "the operator at the machine allows each request"}), and never allowed${approvals.length > 0 ? ` (approved only by ${approvals.map((a) => `${a.by} (${a.where})`).join(", ")})` : ""}.`
          : approval
            ? session.approvedAt
              ? `Allowed in the portal by ${approvedBy} under the site's policy (a customer approver allows each request); the session's time counted from then. The operator's Connect on the gateway opened its data channel.`
              : "Requested under the site's policy (a customer approver allows each request), and never allowed."
            : "No approval required under the site's policy: the operator's Connect on the gateway opened its data channel, and technicians of the customer may connect while it is open.",
      dataChannel: {
        id: channel.id,
        requestedAt: iso(channel.requestedAt),
        onlineAt: channel.onlineAt ? iso(channel.onlineAt) : null,
        closedAt: channel.closedAt ? iso(channel.closedAt) : null,
        closeReason: channel.closeReason,
      },
    },
    services: reportedServices(session),
    tunnel: { bytesIn: session.bytesIn, bytesOut: session.bytesOut },
    modbus: session.modbusEvidence,
    audit: {
      entries,
      first: first ? { seq: first.seq, prevHash: first.prevHash, hash: first.hash } : null,
      last: last ? { seq: last.seq, hash: last.hash } : null,
    },
  };
}

/** The granted services joined with the flow evidence recorded at the end (by protocol and port). */
export function reportedServices(
  session: Pick<SessionView, "services" | "flowEvidence">,
): ReportedService[] {
  return session.services.map((s) => {
    const counted = session.flowEvidence?.find(
      (e) => e.protocol === s.protocol && e.port === s.port,
    );
    const packets = counted?.packets ?? null;
    return {
      name: s.name,
      protocol: s.protocol,
      port: s.port,
      mode: s.mode ?? "full",
      packets,
      bytes: counted?.bytes ?? null,
      reached: packets === null ? null : packets > 0,
    };
  });
}

/** Every audit entry that names the session in its detail (request, active, end, Modbus counts). */
/**
 * The company the request's audit entry recorded; `current` (the user's company now) when the
 * entry has none (requests made before the company was recorded, SSH maintenance).
 */
async function requestedCompany(
  db: Db,
  sessionId: string,
  current: string | null,
): Promise<string | null> {
  const [entry] = await db
    .select({ detail: auditEntries.detail })
    .from(auditEntries)
    .where(
      and(
        sql`${auditEntries.detail}->>'remoteSessionId' = ${sessionId}`,
        eq(auditEntries.action, "remote_session.request"),
      ),
    )
    .limit(1);
  const detail = entry?.detail as Record<string, unknown> | null | undefined;
  if (detail && "company" in detail)
    return typeof detail.company === "string" ? detail.company : null;
  return current;
}

async function sessionEntries(db: Db, sessionId: string): Promise<ReportedAuditEntry[]> {
  const rows = await sessionEntriesQuery(db, sessionId);
  return rows.map((r) => ({ ...r, at: iso(r.at) }));
}

/**
 * The query of a session's audit entries, oldest first. Its condition is the expression of the
 * index audit_entries_remote_session (detail->>'remoteSessionId'), so it reads the entries of one
 * session without scanning the log.
 */
export function sessionEntriesQuery(db: Db, sessionId: string) {
  return db
    .select({
      seq: auditEntries.seq,
      at: auditEntries.at,
      action: auditEntries.action,
      result: auditEntries.result,
      prevHash: auditEntries.prevHash,
      hash: auditEntries.hash,
    })
    .from(auditEntries)
    .where(sql`${auditEntries.detail}->>'remoteSessionId' = ${sessionId}`)
    .orderBy(asc(auditEntries.seq));
}
