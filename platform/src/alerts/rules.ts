// Which audit entries raise which alerts, and the alert's words. Pure: an entry in, events out
// (repeated failed sign-ins need a count of recent ones, passed in).
import type { AuditEntry } from "../audit/index.ts";
import type { AlertEvent } from "../db/index.ts";

type Rule = {
  event: AlertEvent;
  result?: string;
  /** A further condition on the entry's detail. */
  when?: (detail: Record<string, unknown>) => boolean;
};

const toPlatformAdmin = (detail: Record<string, unknown>) => detail.role === "platform_admin";

/** Audit actions (with a result) that raise an alert on their own. */
const DIRECT: Record<string, Rule> = {
  // A technician's request; the approval flow of DESIGN §9.1 holds requests here for approval.
  "remote_session.request": { event: "approval_pending" },
  "remote_session.active": { event: "session_started" },
  "remote_session.end": { event: "session_ended" },
  "gateway.offline": { event: "gateway_offline" },
  "audit.verify": { event: "audit_verify_failed", result: "failed" },
  "pki.renewal": { event: "pki_renewal_failed", result: "failed" },
  "siem.alarm": { event: "siem_backlog", result: "failed" },
  // Four eyes are only as good as the count of admins: every new one is told to the others.
  "role.grant": { event: "admin_granted", result: "ok", when: toPlatformAdmin },
  "user.create": { event: "admin_granted", result: "ok", when: toPlatformAdmin },
  // An identity provider's group mapping added the role at a sign-in ("role/customer" keys).
  "role.sync": {
    event: "admin_granted",
    result: "ok",
    when: (detail) =>
      Array.isArray(detail.added) &&
      detail.added.some((key) => String(key).startsWith("platform_admin/")),
  },
  "workspace_template.propose": { event: "template_change_pending", result: "ok" },
};

export const EVENT_LABELS: Record<AlertEvent, string> = {
  approval_pending: "A remote access request awaits approval",
  session_started: "A remote session started",
  session_ended: "A remote session ended",
  gateway_offline: "A gateway is offline",
  sign_in_failures: "Repeated failed sign-ins",
  audit_verify_failed: "The audit chain failed verification",
  pki_renewal_failed: "CRL or certificate renewal failed",
  siem_backlog: "A SIEM destination is not receiving",
  admin_granted: "Someone became a platform admin",
  template_change_pending: "A workspace template change awaits approval",
};

/**
 * Events whose audit entries name a customer: the only ones a customer's subscription, or a user
 * who sees only some customers, can ever receive. The others (sign-in failures, the audit chain,
 * the CRL, the SIEM) are the platform's.
 */
export const CUSTOMER_EVENTS: readonly AlertEvent[] = [
  "approval_pending",
  "session_started",
  "session_ended",
  "gateway_offline",
];

/** The event an entry raises by itself, or null. */
export function directEvent(
  entry: Pick<AuditEntry, "action" | "result" | "detail">,
): AlertEvent | null {
  const rule = DIRECT[entry.action];
  if (!rule || (rule.result && rule.result !== entry.result)) return null;
  if (rule.when && !rule.when((entry.detail ?? {}) as Record<string, unknown>)) return null;
  return rule.event;
}

/**
 * A refused or failed sign-in: the keys it counts towards (the username tried, the address it
 * came from); an aggregated sign_in.refused entry counts toward its address.
 */
export function signInFailureKeys(
  entry: Pick<AuditEntry, "action" | "result" | "actorName" | "ip">,
): string[] {
  const address = entry.ip && entry.ip !== "unknown" ? [`ip:${entry.ip}`] : [];
  // An aggregate of one source's attempts at no account: it counts toward that source only.
  if (entry.action === "sign_in.refused") return address;
  if (entry.action !== "sign_in" || entry.result === "ok") return [];
  return [`user:${entry.actorName}`, ...address];
}

/** The alert as delivered: a webhook's JSON body, an email's facts. */
export interface AlertPayload {
  event: AlertEvent;
  title: string;
  /** The audit entry that raised it (seq, time, action, actor, customer, detail). */
  entry: {
    seq: number;
    at: string;
    action: string;
    result: string;
    actor: string;
    ip: string | null;
    customerId: string | null;
    target: string | null;
    detail: unknown;
  };
  /** For repeated failures: what was counted. */
  count?: { key: string; failures: number; withinMinutes: number };
}

export function payloadOf(
  event: AlertEvent,
  entry: AuditEntry,
  count?: AlertPayload["count"],
): AlertPayload {
  return {
    event,
    title: EVENT_LABELS[event],
    entry: {
      seq: entry.seq,
      at: entry.at.toISOString(),
      action: entry.action,
      result: entry.result,
      actor: entry.actorName,
      ip: entry.ip,
      customerId: entry.customerId,
      target: entry.targetType ? `${entry.targetType}:${entry.targetId ?? ""}` : null,
      detail: entry.detail,
    },
    ...(count ? { count } : {}),
  };
}

/** An email's subject and text. */
export function emailOf(payload: AlertPayload, portal: string): { subject: string; text: string } {
  const e = payload.entry;
  return {
    subject: `[Meetpoint] ${payload.title}`,
    text: [
      payload.title,
      "",
      `When:    ${e.at}`,
      `What:    ${e.action} (${e.result})`,
      `Who:     ${e.actor}${e.ip ? ` from ${e.ip}` : ""}`,
      ...(e.target ? [`Object:  ${e.target}`] : []),
      ...(payload.count
        ? [
            `Count:   ${payload.count.failures} failures of ${payload.count.key} within ${payload.count.withinMinutes} minutes`,
          ]
        : []),
      `Details: ${JSON.stringify(e.detail)}`,
      "",
      `Audit entry ${e.seq}: ${portal}/audit?action=${encodeURIComponent(e.action)}`,
    ].join("\n"),
  };
}
