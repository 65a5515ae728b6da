// The hash chain: each entry's hash commits to its content and to the previous entry's hash,
// so the order is fixed by the links, not by the sequence number.
import { createHash } from "node:crypto";

export const GENESIS_HASH = "0".repeat(64);

/** The fields an entry's hash covers, in the form they are stored. */
export interface ChainedFields {
  at: Date;
  actorId: string | null;
  actorName: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  customerId: string | null;
  ip: string | null;
  result: string;
  detail: unknown;
  prevHash: string;
}

/** JSON with object keys sorted at every level, so equal values hash equally after a jsonb round-trip. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/** SHA-256 (hex) of the canonical form of the entry, including the previous hash. */
export function entryHash(fields: ChainedFields): string {
  const canonical = canonicalJson({ ...fields, at: fields.at.toISOString() });
  return createHash("sha256").update(canonical).digest("hex");
}
