// Audit entries as syslog messages: RFC 5424 with the entry in structured data and as JSON, or
// with an ArcSight CEF message (Micro Focus "Implementing ArcSight CEF", rev. 25) as its MSG;
// and the octet-counting frame of RFC 5425 §4.3 / RFC 6587 §3.4.1 for TLS and TCP.
import type { AuditEntry } from "../audit/index.ts";

/** The private enterprise number in SD-IDs: 32473 is the one RFC 5612 reserves for examples. */
export const SD_ID = "meetpoint@32473";

/** RFC 5424 §6.2.1 facility; default 13 ("log audit"). */
export type Facility = number;

export interface SyslogIdentity {
  /** HOSTNAME field (RFC 5424 §6.2.4): the platform's public host name. */
  hostname: string;
  /** APP-NAME field; default "meetpoint". */
  appName?: string;
  facility?: Facility;
}

/** Severity by result: ok → 6 informational, denied → 4 warning, failed → 3 error (RFC 5424 §6.2.1). */
export function severityOf(result: string): number {
  return result === "failed" ? 3 : result === "denied" ? 4 : 6;
}

/** PRINTUSASCII without space, cut to `max` (RFC 5424 §6: HOSTNAME 255, APP-NAME 48, MSGID 32). */
function headerField(value: string | null | undefined, max: number): string {
  const clean = (value ?? "").replace(/[^\x21-\x7e]/g, "_").slice(0, max);
  return clean || "-";
}

/** SD-PARAM value escaping (RFC 5424 §6.3.3): `"`, `\` and `]` get a backslash. */
export function sdValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

function structuredData(entry: AuditEntry): string {
  const params: [string, string | number | null][] = [
    ["seq", entry.seq],
    ["action", entry.action],
    ["result", entry.result],
    ["actor", entry.actorName],
    ["actorId", entry.actorId],
    ["ip", entry.ip],
    ["customerId", entry.customerId],
    ["targetType", entry.targetType],
    ["targetId", entry.targetId],
    ["hash", entry.hash],
  ];
  const text = params
    .filter(([, v]) => v !== null && v !== "")
    .map(([k, v]) => `${k}="${sdValue(String(v))}"`)
    .join(" ");
  return `[${SD_ID} ${text}]`;
}

/** The entry as one JSON object, the same shape as a line of the JSONL export. */
export function entryJson(entry: AuditEntry): string {
  return JSON.stringify({ ...entry, at: entry.at.toISOString() });
}

/**
 * RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [SD] MSG`, MSGID the action,
 * MSG the entry as JSON (UTF-8, with the BOM the RFC asks for, §6.4) or `msg` when given.
 */
export function rfc5424(entry: AuditEntry, identity: SyslogIdentity, msg?: string): string {
  const pri = (identity.facility ?? 13) * 8 + severityOf(entry.result);
  return [
    `<${pri}>1`,
    entry.at.toISOString(),
    headerField(identity.hostname, 255),
    headerField(identity.appName ?? "meetpoint", 48),
    "-",
    headerField(entry.action, 32),
    structuredData(entry),
    `\uFEFF${msg ?? entryJson(entry)}`,
  ].join(" ");
}

/** CEF header field escaping: `\` and `|`; line breaks become spaces. */
function cefHeader(value: string): string {
  return value.replace(/[\\|]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, " ");
}

/** CEF extension value escaping: `\` and `=`, line breaks as \n and \r. */
export function cefValue(value: string): string {
  return value
    .replace(/[\\=]/g, (c) => `\\${c}`)
    .replace(/\r/g, "\\r")
    .replace(/\n/g, "\\n");
}

/** CEF severity 0-10 by result: ok 3, denied 6, failed 8. */
function cefSeverity(result: string): number {
  return result === "failed" ? 8 : result === "denied" ? 6 : 3;
}

/**
 * `CEF:0|Meetpoint|Meetpoint platform|<version>|<action>|<action text>|<severity>|<extension>`;
 * the extension uses CEF's keys (rt, suser, suid, src, outcome, externalId, cs1..cs4).
 */
export function cef(entry: AuditEntry, version: string, description: string): string {
  const extension: [string, string | number | null][] = [
    ["rt", entry.at.getTime()],
    ["externalId", entry.seq],
    ["suser", entry.actorName],
    ["suid", entry.actorId],
    ["src", entry.ip && /^[0-9.:a-fA-F]+$/.test(entry.ip) ? entry.ip : null],
    ["outcome", entry.result],
    ["act", entry.action],
    ["cs1Label", "customerId"],
    ["cs1", entry.customerId],
    ["cs2Label", "target"],
    ["cs2", entry.targetType ? `${entry.targetType}:${entry.targetId ?? ""}` : null],
    ["cs3Label", "detail"],
    ["cs3", JSON.stringify(entry.detail)],
    ["cs4Label", "hash"],
    ["cs4", entry.hash],
  ];
  const ext = extension
    .filter(([, v]) => v !== null && v !== "")
    .map(([k, v]) => `${k}=${cefValue(String(v))}`)
    .join(" ");
  return [
    "CEF:0",
    "Meetpoint",
    "Meetpoint platform",
    cefHeader(version),
    cefHeader(entry.action),
    cefHeader(description),
    String(cefSeverity(entry.result)),
    ext,
  ].join("|");
}

/** Octet counting: `MSG-LEN SP SYSLOG-MSG`, MSG-LEN the UTF-8 byte length (RFC 5425 §4.3). */
export function octetCounted(message: string): Buffer {
  const body = Buffer.from(message, "utf8");
  return Buffer.concat([Buffer.from(`${body.length} `, "ascii"), body]);
}
