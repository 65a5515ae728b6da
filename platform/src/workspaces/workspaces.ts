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

export type Workspace = typeof workspaces.$inferSelect;

/** A workspace as its page shows it. */
export interface WorkspaceView {
  workspace: Workspace;
  customerName: string;
  templateName: string;
  /** Whether the caller may change it and grant access. */
  canManage: boolean;
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

/** What a settings form's version covers (workspaceVersion), for ensureUnchanged. */
export const versioned = (w: Workspace) => ({
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
