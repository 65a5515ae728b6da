// Roles, permissions and scopes: who may read and change what. Pure functions of the assignments.
import type { Role } from "../db/index.ts";

export interface RoleGrant {
  role: Role;
  /** Null for platform-wide roles. */
  customerId: string | null;
  /** An operator's grant may be narrowed to one site of its customer; null: the whole customer. */
  siteId?: string | null;
}

/** The signed-in user as authorisation sees them. */
export interface Principal {
  userId: string;
  username: string;
  displayName: string;
  grants: RoleGrant[];
}

/**
 * Whether the principal can hold API tokens at all: a token carries a role for a whole customer
 * (or platform-wide), so someone whose every grant is narrowed to a site can hold none.
 */
export function mayHoldApiTokens(principal: Principal): boolean {
  return principal.grants.some((grant) => !grant.siteId);
}

/** Which data a query may return: all, or that of these customers and of these single sites. */
export type Scope = { all: true } | { all: false; customerIds: string[]; siteIds: string[] };

export type Permission =
  | "masterdata.read" // customers, sites, gateways, machines, services
  | "masterdata.manage" // sites, gateways, machines, services of a customer
  | "customers.manage" // create, rename, delete customers
  | "users.manage" // users and their roles
  | "audit.read"
  | "pki.read" // CA status
  | "pki.manage" // CA rotation
  | "sessions.connect" // open remote sessions to machines
  | "sessions.manage" // terminate anyone's remote sessions
  | "sessions.approve" // allow or deny technicians' requests in the portal (consent policies customer_approval, two_party; deny only under operator_approval)
  | "workstations.arm" // bring a workstation online (Go online) and offline, at the plant
  | "gateways.maintain" // SSH maintenance sessions to connect gateways (through the tunnel)
  | "workspaces.manage" // a customer's jump workspace: template, profile, allow-list, access grants
  | "workspaces.templates"; // propose, approve and reject workspace templates (four eyes)

/** Every permission, for checks that compare two principals' rights permission by permission. */
export const PERMISSIONS: readonly Permission[] = [
  "masterdata.read",
  "masterdata.manage",
  "customers.manage",
  "users.manage",
  "audit.read",
  "pki.read",
  "pki.manage",
  "sessions.connect",
  "sessions.manage",
  "sessions.approve",
  "workstations.arm",
  "gateways.maintain",
  "workspaces.manage",
  "workspaces.templates",
];

/**
 * Whether `grants` give no right beyond `holder`'s: for every permission, the customers the grants
 * reach are a subset of those `holder` reaches (platform-wide only if `holder` is platform-wide).
 */
export function grantsWithin(holder: Principal, grants: RoleGrant[]): boolean {
  const granted: Principal = { ...holder, grants };
  return PERMISSIONS.every((permission) => {
    const wanted = scopeOf(granted, permission);
    const held = scopeOf(holder, permission);
    if (held.all) return true;
    if (wanted.all) return false;
    return (
      wanted.customerIds.every((id) => held.customerIds.includes(id)) &&
      wanted.siteIds.every(
        (id) => held.siteIds.includes(id) || siteOfHeldCustomer(grants, id, held),
      )
    );
  });
}

/** Whether the grant of site `siteId` lies inside a customer `held` reaches in full. */
function siteOfHeldCustomer(grants: RoleGrant[], siteId: string, held: Scope): boolean {
  const customerId = grants.find((g) => g.siteId === siteId)?.customerId ?? null;
  return !held.all && customerId !== null && held.customerIds.includes(customerId);
}

const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  platform_admin: [
    "masterdata.read",
    "masterdata.manage",
    "customers.manage",
    "users.manage",
    "audit.read",
    "pki.read",
    "pki.manage",
    "sessions.manage",
    // Held so platform admins may grant it; deciding requests takes a customer's grant
    // (sessions/requests.ts): consent is the customer's.
    "sessions.approve",
    "gateways.maintain",
    "workspaces.manage",
    "workspaces.templates",
  ],
  auditor: ["masterdata.read", "audit.read", "pki.read"],
  customer_admin: [
    "masterdata.read",
    "masterdata.manage",
    "audit.read",
    "sessions.manage",
    "sessions.approve",
    "workspaces.manage",
  ],
  technician: ["masterdata.read", "sessions.connect"],
  // The plant's own staff: sees its machines and who is connected, ends sessions, brings its
  // workstations online — no master data changes.
  operator: ["masterdata.read", "sessions.manage", "sessions.approve", "workstations.arm"],
};

export const GLOBAL_ROLES: readonly Role[] = ["platform_admin", "auditor"];
export const ROLE_LABELS: Record<Role, string> = {
  platform_admin: "Platform admin",
  auditor: "Auditor",
  customer_admin: "Customer admin",
  technician: "Technician",
  operator: "Operator (plant)",
};

/** The customers for which `principal` holds `permission`; all when a global role grants it. */
export function scopeOf(principal: Principal, permission: Permission): Scope {
  const customerIds = new Set<string>();
  const siteIds = new Set<string>();
  for (const grant of principal.grants) {
    if (!ROLE_PERMISSIONS[grant.role].includes(permission)) continue;
    if (grant.customerId === null) return { all: true };
    if (grant.siteId) siteIds.add(grant.siteId);
    else customerIds.add(grant.customerId);
  }
  return { all: false, customerIds: [...customerIds], siteIds: [...siteIds] };
}

/**
 * Whether `scope` reaches an object of `customerId` — on `siteId`, for objects that belong to a
 * site (a site-narrowed grant reaches nothing of its customer but that site).
 */
export function inScope(scope: Scope, customerId: string | null, siteId?: string | null): boolean {
  if (scope.all) return true;
  if (customerId !== null && scope.customerIds.includes(customerId)) return true;
  return siteId != null && scope.siteIds.includes(siteId);
}

/** Whether `principal` holds `permission` at all (for some customer or site, or globally). */
export function hasPermission(principal: Principal, permission: Permission): boolean {
  const scope = scopeOf(principal, permission);
  return scope.all || scope.customerIds.length > 0 || scope.siteIds.length > 0;
}

/**
 * Global roles carry no customer; scoped roles need exactly one; only operators name a site. The
 * problem names the form field it is about (customerId or siteId), or null when the grant is sound.
 */
export function grantProblem(
  grant: RoleGrant,
): { field: "customerId" | "siteId"; reason: string } | null {
  const global = GLOBAL_ROLES.includes(grant.role);
  const label = ROLE_LABELS[grant.role];
  if (global && grant.customerId !== null)
    return { field: "customerId", reason: `${label} is platform-wide: choose no customer` };
  if (!global && grant.customerId === null)
    return { field: "customerId", reason: `${label} needs a customer` };
  if (grant.siteId && grant.role !== "operator")
    return { field: "siteId", reason: `${label} holds for the whole customer: choose no site` };
  return null;
}
