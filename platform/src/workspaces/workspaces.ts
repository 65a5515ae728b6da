// A customer's jump workspace: its template, its remote-access profile (secrets sealed with the
// KEK), its egress allow-list, and the technicians granted access. Managed by platform admins and
// the customer's admins; a technician without a grant does not see it (404).
import { and, asc, eq, inArray, notInArray } from "drizzle-orm";
import {
  type Context,
  checkId,
  conflictOnDuplicate,
  ensureUnchanged,
  found,
  inScope,
  requirePermission,
  scopeOf,
} from "../access/index.ts";
import { recordAudit } from "../audit/index.ts";
import {
  customers,
  type EgressEntry,
  inTransaction,
  workspaceGrants,
  workspaceRuns,
  workspaces,
  workspaceTemplates,
} from "../db/index.ts";
import { ConflictError, NotFoundError, ValidationError, versionOf } from "../shared/index.ts";
import { parseAllowList } from "./egress.ts";
import { type IpsecSettings, ipsecEndpoints, parseIpsecProfile } from "./ipsec-profile.ts";
import { parseOpenVpnProfile, type VpnEndpoint } from "./openvpn-profile.ts";

export type Workspace = typeof workspaces.$inferSelect;

/** Seals and unseals a secret with the KEK under a label (the platform's Pki does). */
export interface Sealer {
  sealSecret(label: string, text: string): Promise<string>;
  unsealSecret(label: string, sealed: string): Promise<string>;
}

/** The label a workspace's profile secrets are sealed under: binds them to that workspace. */
export const profileSecretsLabel = (workspaceId: string) => `workspace-profile:${workspaceId}`;

/** A workspace as its page shows it. */
export interface WorkspaceView {
  workspace: Workspace;
  customerName: string;
  templateName: string;
  /** Whether the caller may change it and grant access. */
  canManage: boolean;
}

/**
 * The sealed secrets of a stored profile: by name (OpenVPN block name, "psk", "privateKey") the
 * ISO time its value last changed. No hash of a secret is kept or shown (a hash of a password or
 * PSK can be guessed offline). Profiles stored before this had `fingerprints` (unsalted SHA-256):
 * pages read only their names.
 */
export type SealedSecrets = Record<string, string>;

/** The stored (secret-free) OpenVPN profile. */
export interface StoredOpenVpn {
  config: string;
  remotes: VpnEndpoint[];
  sealed?: SealedSecrets;
  /** Only in profiles stored before `sealed`: never shown. */
  fingerprints?: Record<string, string>;
}
/** The stored (secret-free) IPsec profile. */
export interface StoredIpsec {
  settings: IpsecSettings;
  sealed?: SealedSecrets;
  /** SHA-256 (hex) of the workspace certificate's DER (certificate auth): public. */
  certificateFingerprint?: string | null;
  /** Only in profiles stored before `sealed`: never shown. */
  fingerprints?: Record<string, string>;
}

/** How each secret of a new profile compares with the stored one. */
type SecretChange = "added" | "replaced" | "unchanged" | "removed";

/**
 * The stored profile's secrets by name, unsealed; empty when none are stored. A sealed value that
 * no longer opens (altered, other KEK) counts as empty: every new secret then counts as replaced.
 */
async function storedSecrets(
  sealer: Sealer,
  workspace: Workspace,
): Promise<Record<string, string>> {
  if (!workspace.profileSecretsSealed) return {};
  try {
    const value = JSON.parse(
      await sealer.unsealSecret(profileSecretsLabel(workspace.id), workspace.profileSecretsSealed),
    );
    return value && typeof value === "object" ? (value as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/**
 * Compares the new secrets with the stored ones: per name added/replaced/unchanged/removed, and
 * the `sealed` record to store (an unchanged secret keeps its change time, others get `now`).
 */
function compareSecrets(
  before: Record<string, string>,
  beforeSealed: SealedSecrets,
  after: Record<string, string>,
  now: Date,
): { changes: Record<string, SecretChange>; sealed: SealedSecrets } {
  const changes: Record<string, SecretChange> = {};
  const sealed: SealedSecrets = {};
  for (const [name, value] of Object.entries(after)) {
    const old = before[name];
    changes[name] = old === undefined ? "added" : old === value ? "unchanged" : "replaced";
    sealed[name] =
      changes[name] === "unchanged" && beforeSealed[name] ? beforeSealed[name] : now.toISOString();
  }
  for (const name of Object.keys(before)) if (!(name in after)) changes[name] = "removed";
  return { changes, sealed };
}

const mayManage = (ctx: Context, customerId: string) =>
  inScope(scopeOf(ctx.caller.principal, "workspaces.manage"), customerId);

/** Workspaces the caller may see: those they manage, and those they hold a grant for. */
export async function listWorkspaces(ctx: Context): Promise<WorkspaceView[]> {
  const rows = await ctx.db
    .select({
      workspace: workspaces,
      customerName: customers.name,
      templateName: workspaceTemplates.name,
    })
    .from(workspaces)
    .innerJoin(customers, eq(customers.id, workspaces.customerId))
    .innerJoin(workspaceTemplates, eq(workspaceTemplates.id, workspaces.templateId))
    .orderBy(asc(customers.name));
  const granted = await grantedWorkspaceIds(ctx);
  return rows
    .map((r) => ({ ...r, canManage: mayManage(ctx, r.workspace.customerId) }))
    .filter((r) => r.canManage || granted.has(r.workspace.id));
}

/** Ids of workspaces the caller holds a grant for, while a technician of that customer. */
async function grantedWorkspaceIds(ctx: Context): Promise<Set<string>> {
  const rows = await ctx.db
    .select({ id: workspaceGrants.workspaceId, customerId: workspaces.customerId })
    .from(workspaceGrants)
    .innerJoin(workspaces, eq(workspaces.id, workspaceGrants.workspaceId))
    .where(eq(workspaceGrants.userId, ctx.caller.principal.userId));
  const technician = scopeOf(ctx.caller.principal, "sessions.connect");
  return new Set(rows.filter((r) => inScope(technician, r.customerId)).map((r) => r.id));
}

/** One workspace; 404 when unknown or when the caller neither manages it nor holds a grant. */
export async function getWorkspace(ctx: Context, id: string): Promise<WorkspaceView> {
  const [row] = await ctx.db
    .select({
      workspace: workspaces,
      customerName: customers.name,
      templateName: workspaceTemplates.name,
    })
    .from(workspaces)
    .innerJoin(customers, eq(customers.id, workspaces.customerId))
    .innerJoin(workspaceTemplates, eq(workspaceTemplates.id, workspaces.templateId))
    .where(eq(workspaces.id, checkId(id, "Workspace")));
  const view = found(row, "Workspace");
  const canManage = mayManage(ctx, view.workspace.customerId);
  if (!canManage && !(await grantedWorkspaceIds(ctx)).has(view.workspace.id))
    throw new NotFoundError("Workspace");
  return { ...view, canManage };
}

/** The workspace, when the caller manages it: 404 unseen, 403 seen but not managed. */
export async function managedWorkspace(ctx: Context, id: string): Promise<WorkspaceView> {
  const view = await getWorkspace(ctx, id);
  requirePermission(ctx.caller, "workspaces.manage", view.workspace.customerId);
  return view;
}

async function approvedTemplate(ctx: Context, templateId: unknown) {
  const id = typeof templateId === "string" ? templateId : "";
  if (!id) throw new ValidationError("templateId", "choose a template");
  const [template] = await ctx.db
    .select()
    .from(workspaceTemplates)
    .where(eq(workspaceTemplates.id, checkId(id, "Template")));
  if (!template) throw new ValidationError("templateId", "is not a template");
  if (!template.effective)
    throw new ValidationError(
      "templateId",
      "has no approved values yet: a second platform admin must approve its first proposal",
    );
  return template;
}

/**
 * Creates the customer's workspace on an approved template (field templateId). 403 without
 * workspaces.manage for the customer, 404 for a customer the caller cannot see, 400 for a template
 * without approved values, 409 when the customer has a workspace already.
 */
export async function createWorkspace(
  ctx: Context,
  customerId: string,
  input: Record<string, unknown>,
): Promise<Workspace> {
  const id = checkId(customerId, "Customer");
  const [customer] = await ctx.db.select().from(customers).where(eq(customers.id, id));
  if (!customer || !inScope(scopeOf(ctx.caller.principal, "masterdata.read"), customer.id))
    throw new NotFoundError("Customer");
  requirePermission(ctx.caller, "workspaces.manage", customer.id);
  const template = await approvedTemplate(ctx, input.templateId);
  return conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      const [row] = await tx
        .insert(workspaces)
        .values({ customerId: customer.id, templateId: template.id })
        .returning();
      const workspace = found(row, "Workspace");
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "workspace.create",
        target: { type: "workspace", id: workspace.id },
        customerId: customer.id,
        detail: { name: customer.name, template: template.name, templateId: template.id },
      });
      return workspace;
    }),
  );
}

/** The version of the workspace's settings as its forms show them. */
export const workspaceVersion = (w: Workspace) =>
  versionOf({ templateId: w.templateId, profile: w.profile, allowList: w.allowList });

/**
 * The version of what a running workspace enforces and connects with — its profile (secrets'
 * change times included) and allow-list: recorded on each run, compared by the stop job.
 */
export const settingsVersion = (w: Workspace) =>
  versionOf({ profile: w.profile, allowList: w.allowList });

const versioned = (w: Workspace) => ({
  templateId: w.templateId,
  profile: w.profile,
  allowList: w.allowList,
});

/** Moves the workspace to another approved template (field templateId); stale forms are 409. */
export async function setWorkspaceTemplate(
  ctx: Context,
  id: string,
  input: Record<string, unknown>,
): Promise<Workspace> {
  const { workspace, customerName, templateName } = await managedWorkspace(ctx, id);
  const template = await approvedTemplate(ctx, input.templateId);
  await ensureUnchanged(ctx, input, versioned(workspace), { type: "workspace", id: workspace.id });
  return inTransaction(ctx.db, async (tx) => {
    const [row] = await tx
      .update(workspaces)
      .set({ templateId: template.id })
      .where(eq(workspaces.id, workspace.id))
      .returning();
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "workspace.update",
      target: { type: "workspace", id: workspace.id },
      customerId: workspace.customerId,
      detail: {
        name: customerName,
        before: { template: templateName },
        after: { template: template.name },
      },
    });
    return found(row, "Workspace");
  });
}

/**
 * Stores the workspace's remote-access profile. Field kind = openvpn (field profile: the client
 * config text) or ipsec (fields of parseIpsecProfile). The secrets are sealed with the KEK under
 * profileSecretsLabel(id) and never returned, nor any hash of them; the audit entry holds the
 * endpoints, whether the credentials were replaced ("yes"/"no") and per secret name whether it
 * was added, replaced, left unchanged or removed (compared with the stored secrets, unsealed). 400 naming the field (and for OpenVPN the line and directive); nothing is stored.
 */
export async function setWorkspaceProfile(
  ctx: Context,
  sealer: Sealer,
  id: string,
  input: Record<string, unknown>,
): Promise<Workspace> {
  const { workspace, customerName } = await managedWorkspace(ctx, id);
  const kind = input.kind;
  let stored: StoredOpenVpn | StoredIpsec;
  let secrets: Record<string, string>;
  let summary: Record<string, unknown>;
  if (kind === "openvpn") {
    const text = typeof input.profile === "string" ? input.profile : "";
    if (!text.trim())
      throw new ValidationError("profile", "paste the customer's OpenVPN client config");
    const parsed = parseOpenVpnProfile(text);
    stored = { config: parsed.config, remotes: parsed.remotes };
    secrets = parsed.secrets;
    summary = { remotes: parsed.remotes };
  } else if (kind === "ipsec") {
    const parsed = parseIpsecProfile(input);
    stored = { settings: parsed.settings, certificateFingerprint: parsed.certificateFingerprint };
    secrets = parsed.secrets as Record<string, string>;
    summary = {
      remoteAddress: parsed.settings.remoteAddress,
      auth: parsed.settings.auth,
      remoteSubnets: parsed.settings.remoteSubnets,
      ...(parsed.certificateFingerprint
        ? { certificateFingerprint: parsed.certificateFingerprint }
        : {}),
    };
  } else throw new ValidationError("kind", "must be openvpn or ipsec");
  await ensureUnchanged(ctx, input, versioned(workspace), { type: "workspace", id: workspace.id });
  const before = await storedSecrets(sealer, workspace);
  const beforeSealed = ((workspace.profile as { sealed?: SealedSecrets } | null)?.sealed ??
    {}) as SealedSecrets;
  const { changes, sealed: sealedAt } = compareSecrets(
    before,
    beforeSealed,
    secrets,
    ctx.clock.now(),
  );
  stored.sealed = sealedAt;
  const sealed = Object.keys(secrets).length
    ? await sealer.sealSecret(profileSecretsLabel(workspace.id), JSON.stringify(secrets))
    : null;
  return inTransaction(ctx.db, async (tx) => {
    const [row] = await tx
      .update(workspaces)
      .set({ profileKind: kind, profile: { ...stored }, profileSecretsSealed: sealed })
      .where(eq(workspaces.id, workspace.id))
      .returning();
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "workspace.profile",
      target: { type: "workspace", id: workspace.id },
      customerId: workspace.customerId,
      detail: {
        name: customerName,
        kind,
        replaced: workspace.profileKind,
        ...summary,
        credentialsReplaced: Object.values(changes).some((c) => c !== "unchanged") ? "yes" : "no",
        secrets: changes,
      },
    });
    return found(row, "Workspace");
  });
}

/** The VPN endpoints of a stored profile (hosts may be DNS names, resolved at start). */
export function profileEndpoints(
  workspace: Pick<Workspace, "profileKind" | "profile">,
): { host: string; protocol: "tcp" | "udp" | "esp"; port: number | null }[] {
  if (workspace.profileKind === "openvpn")
    return ((workspace.profile as unknown as StoredOpenVpn).remotes ?? []).map((r) => ({ ...r }));
  if (workspace.profileKind === "ipsec")
    return ipsecEndpoints((workspace.profile as unknown as StoredIpsec).settings);
  return [];
}

/** Replaces the egress allow-list (field allowList, one entry a line: see parseAllowList). */
export async function setAllowList(
  ctx: Context,
  id: string,
  input: Record<string, unknown>,
): Promise<Workspace> {
  const { workspace, customerName } = await managedWorkspace(ctx, id);
  const entries: EgressEntry[] = parseAllowList(
    typeof input.allowList === "string" ? input.allowList : "",
  );
  await ensureUnchanged(ctx, input, versioned(workspace), { type: "workspace", id: workspace.id });
  return inTransaction(ctx.db, async (tx) => {
    const [row] = await tx
      .update(workspaces)
      .set({ allowList: entries })
      .where(eq(workspaces.id, workspace.id))
      .returning();
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "workspace.allow_list",
      target: { type: "workspace", id: workspace.id },
      customerId: workspace.customerId,
      detail: { name: customerName, before: workspace.allowList, after: entries },
    });
    return found(row, "Workspace");
  });
}

/**
 * Deletes the workspace with its grants and its sealed profile (the customer can then be deleted);
 * audited with the customer's name. 403 without workspaces.manage for its customer; 409 while it
 * is starting or running (Stop first). `removeDockerObjects` (the runtime's, when the platform
 * runs workspaces) removes its containers, network and home volume on every Docker endpoint
 * before the rows go and returns the endpoints; when it throws, nothing is deleted.
 */
export async function deleteWorkspace(
  ctx: Context,
  id: string,
  removeDockerObjects?: (workspaceId: string) => Promise<string[]>,
): Promise<void> {
  const { workspace, customerName, templateName } = await managedWorkspace(ctx, id);
  const [live] = await ctx.db
    .select({ id: workspaceRuns.id })
    .from(workspaceRuns)
    .where(
      and(
        eq(workspaceRuns.workspaceId, workspace.id),
        notInArray(workspaceRuns.state, ["stopped", "failed"]),
      ),
    );
  // Its container would be left running with nobody to stop it.
  if (live) throw new ConflictError("The workspace is starting or running: stop it first.");
  const cleaned = removeDockerObjects ? await removeDockerObjects(workspace.id) : [];
  await inTransaction(ctx.db, async (tx) => {
    await tx.delete(workspaces).where(eq(workspaces.id, workspace.id));
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "workspace.delete",
      target: { type: "workspace", id: workspace.id },
      customerId: workspace.customerId,
      detail: {
        name: customerName,
        template: templateName,
        profileKind: workspace.profileKind,
        dockerObjectsRemovedOn: cleaned,
      },
    });
  });
}

/** Customers the caller may create a workspace for that have none yet. */
export async function customersWithoutWorkspace(ctx: Context) {
  const scope = scopeOf(ctx.caller.principal, "workspaces.manage");
  if (!scope.all && scope.customerIds.length === 0) return [];
  const taken = await ctx.db.select({ id: workspaces.customerId }).from(workspaces);
  const rows = await ctx.db
    .select({ id: customers.id, name: customers.name })
    .from(customers)
    .where(scope.all ? undefined : inArray(customers.id, scope.customerIds))
    .orderBy(asc(customers.name));
  return rows.filter((r) => !taken.some((t) => t.id === r.id));
}
