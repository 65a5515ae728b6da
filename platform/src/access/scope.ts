// The one place where master data queries are limited to the caller's customers.
import { inArray, or, type SQL, sql } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import { ForbiddenError, isUuid, NotFoundError } from "../shared/index.ts";
import type { Caller } from "./context.ts";
import { inScope, type Permission, scopeOf } from "./roles.ts";

/**
 * The WHERE condition that keeps only rows the caller may read: those of their customers, and for
 * grants narrowed to sites (operators) the rows `onSites` relates to those sites. Without
 * `onSites` a site-narrowed grant reads nothing of the table.
 */
export function readable(
  caller: Caller,
  customerColumn: PgColumn,
  onSites?: (siteIds: string[]) => SQL,
): SQL | undefined {
  const scope = scopeOf(caller.principal, "masterdata.read");
  if (scope.all) return undefined;
  const conditions: SQL[] = [];
  if (scope.customerIds.length) conditions.push(inArray(customerColumn, scope.customerIds));
  if (scope.siteIds.length && onSites) conditions.push(onSites(scope.siteIds));
  return conditions.length ? or(...conditions) : sql`false`;
}

/**
 * Throws unless the caller holds `permission` for `customerId` — or for `siteId`, the object's
 * site, where it has one (403: the object is visible).
 */
export function requirePermission(
  caller: Caller,
  permission: Permission,
  customerId: string | null,
  siteId?: string | null,
): void {
  if (!inScope(scopeOf(caller.principal, permission), customerId, siteId))
    throw new ForbiddenError();
}

/** A row found by a scoped query, or 404 — also for ids that are not even well-formed. */
export function found<T>(row: T | undefined, what: string): T {
  if (row === undefined) throw new NotFoundError(what);
  return row;
}

/** Rejects ids that cannot exist before they reach a uuid column (which would raise an error). */
export function checkId(id: string, what: string): string {
  if (!isUuid(id)) throw new NotFoundError(what);
  return id.toLowerCase();
}
