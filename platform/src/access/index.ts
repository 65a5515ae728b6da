// Who may do what: roles and scopes (pure), the caller's context, the one filter that limits queries
// to the caller's customers, and the mapping of constraint violations to plain conflicts.
export { conflictOnDuplicate, ensureUnchanged } from "./conflicts.ts";
export type { Caller, Context } from "./context.ts";
export {
  GLOBAL_ROLES,
  grantProblem,
  grantsWithin,
  hasPermission,
  inScope,
  mayHoldApiTokens,
  PERMISSIONS,
  type Permission,
  type Principal,
  ROLE_LABELS,
  type RoleGrant,
  type Scope,
  scopeOf,
} from "./roles.ts";
export { checkId, found, readable, requirePermission } from "./scope.ts";
