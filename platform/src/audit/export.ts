// Audit export as JSON Lines or CSV, one entry per line, hashes included for later verification.
import type { AuditEntry } from "./log.ts";

export type ExportFormat = "jsonl" | "csv";

const COLUMNS = [
  "seq",
  "at",
  "actorId",
  "actorName",
  "action",
  "targetType",
  "targetId",
  "customerId",
  "ip",
  "result",
  "detail",
  "prevHash",
  "hash",
] as const satisfies readonly (keyof AuditEntry)[];

function csvField(value: string): string {
  // A leading = + - @ would run as a formula in spreadsheet programs: quote it as text.
  const guarded = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(guarded) || guarded !== value
    ? `"${guarded.replaceAll('"', '""')}"`
    : guarded;
}

function asText(entry: AuditEntry, column: (typeof COLUMNS)[number]): string {
  const value = entry[column];
  if (value === null || value === undefined) return "";
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Turns entries into lines of the chosen format; CSV starts with a header line. */
export async function* exportAudit(
  entries: AsyncIterable<AuditEntry> | Iterable<AuditEntry>,
  format: ExportFormat,
): AsyncGenerator<string> {
  if (format === "csv") yield `${COLUMNS.join(",")}\r\n`;
  for await (const entry of entries) {
    if (format === "jsonl") {
      yield `${JSON.stringify({ ...entry, at: entry.at.toISOString() })}\n`;
    } else {
      yield `${COLUMNS.map((c) => csvField(asText(entry, c))).join(",")}\r\n`;
    }
  }
}
