// Reading the audit log in the portal: filtered, newest first, limited to the reader's customers.
import { and, desc, eq, gte, ilike, inArray, lt, lte, type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { auditEntries, type Db } from "../db/index.ts";
import { escapeLike, parseInput } from "../shared/index.ts";
import type { AuditEntry } from "./log.ts";

/** Whose entries a reader may see: all, or those of these customers (a role scope fits). */
export type CustomerScope = { all: true } | { all: false; customerIds: string[] };

// Year 0 passes ISO 8601 but not PostgreSQL (there is no year 0 in its calendar): from year 1 on.
const dateSchema = z.iso
  .date({ error: "must be a date (YYYY-MM-DD)" })
  .refine((v) => v >= "0001-01-01", "must be a date from year 1 on");

export const auditFilterSchema = z.object({
  action: z.string().trim().max(100).optional(),
  actor: z.string().trim().max(100).optional(),
  result: z
    .enum(["", "ok", "denied", "failed"], { error: "must be ok, denied or failed" })
    .optional(),
  from: z.union([z.literal(""), dateSchema]).optional(),
  to: z.union([z.literal(""), dateSchema]).optional(),
  before: z.coerce.number().int().positive().optional(),
});

export type AuditFilter = z.infer<typeof auditFilterSchema>;

export function parseAuditFilter(query: Record<string, string>): AuditFilter {
  return parseInput(auditFilterSchema, query);
}

/** The WHERE condition for a filter within a scope (customer-scoped readers see their customers). */
export function auditCondition(scope: CustomerScope, filter: AuditFilter): SQL | undefined {
  const conditions: (SQL | undefined)[] = [];
  if (!scope.all) {
    conditions.push(
      scope.customerIds.length ? inArray(auditEntries.customerId, scope.customerIds) : sql`false`,
    );
  }
  if (filter.action) conditions.push(ilike(auditEntries.action, `${escapeLike(filter.action)}%`));
  if (filter.actor) conditions.push(ilike(auditEntries.actorName, `%${escapeLike(filter.actor)}%`));
  if (filter.result) conditions.push(eq(auditEntries.result, filter.result));
  if (filter.from) conditions.push(gte(auditEntries.at, new Date(`${filter.from}T00:00:00Z`)));
  if (filter.to) conditions.push(lte(auditEntries.at, new Date(`${filter.to}T23:59:59.999Z`)));
  if (filter.before) conditions.push(lt(auditEntries.seq, filter.before));
  return and(...conditions);
}

/** A page of entries, newest first. */
export function listAudit(
  db: Db,
  scope: CustomerScope,
  filter: AuditFilter,
  limit = 100,
): Promise<AuditEntry[]> {
  return db
    .select()
    .from(auditEntries)
    .where(auditCondition(scope, filter))
    .orderBy(desc(auditEntries.seq))
    .limit(limit);
}

/** All entries matching, oldest first, in pages: for export. */
export async function* scopedEntries(
  db: Db,
  scope: CustomerScope,
  filter: AuditFilter,
): AsyncGenerator<AuditEntry> {
  let after = 0;
  for (;;) {
    const page = await db
      .select()
      .from(auditEntries)
      .where(
        and(
          auditCondition(scope, { ...filter, before: undefined }),
          sql`${auditEntries.seq} > ${after}`,
        ),
      )
      .orderBy(auditEntries.seq)
      .limit(1000);
    yield* page;
    const last = page.at(-1);
    if (!last || page.length < 1000) return;
    after = last.seq;
  }
}

/** Who last changed a thing, and when: its newest entry that went through (result ok). */
export async function lastChange(
  db: Db,
  target: { type: string; id: string },
): Promise<{ actorName: string; at: Date } | null> {
  const [row] = await db
    .select({ actorName: auditEntries.actorName, at: auditEntries.at })
    .from(auditEntries)
    .where(
      and(
        eq(auditEntries.targetType, target.type),
        eq(auditEntries.targetId, target.id),
        eq(auditEntries.result, "ok"),
      ),
    )
    .orderBy(desc(auditEntries.seq))
    .limit(1);
  return row ?? null;
}
