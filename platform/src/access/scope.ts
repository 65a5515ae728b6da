// The one place where master data queries are limited to the caller's customers.
import { inArray, type SQL, sql } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import { ForbiddenError, isUuid, NotFoundError } from "../shared/index.ts";
import type { Caller } from "./context.ts";
import { inScope, type Permission, scopeOf } from "./roles.ts";

/** The WHERE condition that keeps only rows of customers the caller may read. */
export function readable(caller: Caller, customerColumn: PgColumn): SQL | undefined {
  const scope = scopeOf(caller.principal, "masterdata.read");
  if (scope.all) return undefined;
  if (scope.customerIds.length === 0) return sql`false`;
  return inArray(customerColumn, scope.customerIds);
}

/** Throws unless the caller holds `permission` for `customerId` (403: the object is visible). */
export function requirePermission(
  caller: Caller,
  permission: Permission,
  customerId: string | null,
): void {
  if (!inScope(scopeOf(caller.principal, permission), customerId)) throw new ForbiddenError();
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
