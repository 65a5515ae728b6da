// The names of what audit entries are about, for a page a customer can read: the entry keeps the
// target's id (exports carry it), the page shows the name it has now, or had when it was deleted.
import { inArray } from "drizzle-orm";
import {
  apiTokens,
  customers,
  type Db,
  gateways,
  identityProviders,
  machines,
  services,
  sites,
  users,
  workspaceTemplates,
} from "../db/index.ts";
import type { AuditEntry } from "./log.ts";

/** Tables whose rows have a name, by the target type entries use. */
const NAMED = {
  customer: { table: customers, id: customers.id, name: customers.name },
  site: { table: sites, id: sites.id, name: sites.name },
  gateway: { table: gateways, id: gateways.id, name: gateways.name },
  machine: { table: machines, id: machines.id, name: machines.name },
  service: { table: services, id: services.id, name: services.name },
  user: { table: users, id: users.id, name: users.username },
  identity_provider: {
    table: identityProviders,
    id: identityProviders.id,
    name: identityProviders.displayName,
  },
  api_token: { table: apiTokens, id: apiTokens.id, name: apiTokens.name },
  workspace_template: {
    table: workspaceTemplates,
    id: workspaceTemplates.id,
    name: workspaceTemplates.name,
  },
} as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The key of a target in the map targetNames returns. */
export const targetKey = (type: string, id: string) => `${type}:${id}`;

/**
 * The names of the targets of `entries`, by targetKey: the current name where the thing still
 * exists, otherwise the name the entry itself recorded (a delete records it), if any.
 */
export async function targetNames(db: Db, entries: AuditEntry[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  const wanted = new Map<keyof typeof NAMED, Set<string>>();
  for (const e of entries) {
    if (!e.targetType || !e.targetId) continue;
    const recorded = (e.detail as Record<string, unknown> | null)?.name;
    if (typeof recorded === "string") names.set(targetKey(e.targetType, e.targetId), recorded);
    if (e.targetType in NAMED && UUID.test(e.targetId)) {
      const type = e.targetType as keyof typeof NAMED;
      wanted.set(type, (wanted.get(type) ?? new Set()).add(e.targetId));
    }
  }
  for (const [type, ids] of wanted) {
    const { table, id, name } = NAMED[type];
    const rows = await db
      .select({ id, name })
      .from(table)
      .where(inArray(id, [...ids]));
    for (const row of rows) names.set(targetKey(type, row.id), row.name);
  }
  return names;
}
