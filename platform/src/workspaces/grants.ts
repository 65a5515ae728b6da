// Who may use a customer's workspace: technicians of that customer, granted (and revoked) by a
// platform admin or the customer's admin; every grant and revocation audited.
import { and, asc, eq, isNull } from "drizzle-orm";
import { z } from "zod";
import { type Context, checkId, conflictOnDuplicate } from "../access/index.ts";
import { recordAudit } from "../audit/index.ts";
import { inTransaction, roleAssignments, users, workspaceGrants } from "../db/index.ts";
import { ConflictError, parseInput, ValidationError } from "../shared/index.ts";
import { managedWorkspace } from "./workspaces.ts";

/** Technicians granted access to the workspace, by username. */
export async function listGrants(ctx: Context, id: string) {
  const { workspace } = await managedWorkspace(ctx, id);
  return ctx.db
    .select({
      userId: users.id,
      username: users.username,
      displayName: users.displayName,
      since: workspaceGrants.createdAt,
    })
    .from(workspaceGrants)
    .innerJoin(users, eq(users.id, workspaceGrants.userId))
    .where(eq(workspaceGrants.workspaceId, workspace.id))
    .orderBy(asc(users.username));
}

/** Users holding the technician role for the workspace's customer (who may be granted access). */
export async function techniciansOf(ctx: Context, customerId: string) {
  return ctx.db
    .selectDistinct({ id: users.id, username: users.username, displayName: users.displayName })
    .from(roleAssignments)
    .innerJoin(users, eq(users.id, roleAssignments.userId))
    .where(
      and(
        eq(roleAssignments.customerId, customerId),
        eq(roleAssignments.role, "technician"),
        isNull(users.disabledAt),
      ),
    )
    .orderBy(asc(users.username));
}

/**
 * Grants a technician (field userId) access to the workspace. 400 when the user is not a
 * technician of the workspace's customer; 409 when they have access already.
 */
export async function grantAccess(
  ctx: Context,
  id: string,
  input: Record<string, unknown>,
): Promise<void> {
  const { workspace, customerName } = await managedWorkspace(ctx, id);
  const { userId } = parseInput(
    z.object({ userId: z.string({ error: "choose a technician" }) }),
    input,
  );
  const technicians = await techniciansOf(ctx, workspace.customerId);
  const technician = technicians.find((t) => t.id === userId.toLowerCase());
  if (!technician)
    throw new ValidationError("userId", "is not a technician of this workspace's customer");
  await conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      await tx.insert(workspaceGrants).values({
        workspaceId: workspace.id,
        userId: technician.id,
        grantedBy: ctx.caller.principal.userId,
      });
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "workspace.grant",
        target: { type: "workspace", id: workspace.id },
        customerId: workspace.customerId,
        detail: {
          name: customerName,
          technician: technician.username,
          technicianId: technician.id,
        },
      });
    }),
  );
}

/** Revokes a technician's access (userId); 409 when they had none. */
export async function revokeAccess(ctx: Context, id: string, userId: string): Promise<void> {
  const { workspace, customerName } = await managedWorkspace(ctx, id);
  const user = checkId(userId, "Technician");
  await inTransaction(ctx.db, async (tx) => {
    const removed = await tx
      .delete(workspaceGrants)
      .where(and(eq(workspaceGrants.workspaceId, workspace.id), eq(workspaceGrants.userId, user)))
      .returning({ id: workspaceGrants.id });
    if (removed.length === 0) throw new ConflictError("This technician has no access to revoke.");
    const [who] = await tx
      .select({ username: users.username })
      .from(users)
      .where(eq(users.id, user));
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "workspace.revoke",
      target: { type: "workspace", id: workspace.id },
      customerId: workspace.customerId,
      detail: { name: customerName, technician: who?.username ?? null, technicianId: user },
    });
  });
}
