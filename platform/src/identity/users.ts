// User administration: accounts, role grants, disabling and sign-in resets. Platform admins only.
import { and, asc, eq, inArray, isNull } from "drizzle-orm";
import { z } from "zod";
import type { Context } from "../access/index.ts";
import {
  checkId,
  conflictOnDuplicate,
  found,
  grantProblem,
  type RoleGrant,
  requirePermission,
} from "../access/index.ts";
import { recordAudit, SYSTEM_ACTOR } from "../audit/index.ts";
import {
  customers,
  type Db,
  inTransaction,
  ROLES,
  roleAssignments,
  signInFailures,
  sites,
  users,
} from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import {
  CONTROL,
  ConflictError,
  FORMAT_CHARACTER,
  FORMAT_MESSAGE,
  nameSchema,
  parseInput,
  ValidationError,
} from "../shared/index.ts";
import { hashPassword, randomPassword } from "./passwords.ts";
import { endAllWebSessions } from "./web-sessions.ts";

export interface UserSummary {
  id: string;
  username: string;
  displayName: string;
  /** The company the person works for; null: not recorded. */
  company: string | null;
  disabled: boolean;
  totpEnrolled: boolean;
  grants: (RoleGrant & { id: string; customerName: string | null; siteName: string | null })[];
}

export const usernameSchema = z
  .string({ error: "is required" })
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9._@-]{1,63}$/, "2–64 characters: letters, digits, . _ @ -");

/** The most characters a user's company may have. */
export const COMPANY_MAX = 200;

/**
 * A user's company as entered or claimed: trimmed, at most 200 characters, no control or format
 * characters; empty (or absent) becomes null, "not recorded".
 */
export const companySchema = z
  .string()
  .refine((v) => !FORMAT_CHARACTER.test(v), FORMAT_MESSAGE)
  .trim()
  .max(COMPANY_MAX, `must have at most ${COMPANY_MAX} characters`)
  .refine((v) => !CONTROL.test(v), "must not contain control characters")
  .optional()
  .transform((v) => v || null);

const userInput = z.object({
  username: usernameSchema,
  displayName: nameSchema,
  company: companySchema,
});
const userEdit = z.object({ displayName: nameSchema, company: companySchema });
const grantInput = z.object({
  role: z.enum(ROLES, { error: "choose a role" }),
  customerId: z
    .string()
    .optional()
    .transform((v) => v || null),
  siteId: z
    .string()
    .optional()
    .transform((v) => v || null),
});

async function grantsOf(db: Db, userIds: string[]) {
  if (userIds.length === 0) return [];
  return db
    .select({
      id: roleAssignments.id,
      userId: roleAssignments.userId,
      role: roleAssignments.role,
      customerId: roleAssignments.customerId,
      customerName: customers.name,
      siteId: roleAssignments.siteId,
      siteName: sites.name,
    })
    .from(roleAssignments)
    .leftJoin(customers, eq(customers.id, roleAssignments.customerId))
    .leftJoin(sites, eq(sites.id, roleAssignments.siteId))
    .where(inArray(roleAssignments.userId, userIds))
    .orderBy(asc(roleAssignments.role), asc(customers.name));
}

function summary(
  user: typeof users.$inferSelect,
  grants: Awaited<ReturnType<typeof grantsOf>>,
): UserSummary {
  return {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    company: user.company,
    disabled: user.disabledAt !== null,
    totpEnrolled: user.totpConfirmedAt !== null,
    grants: grants
      .filter((g) => g.userId === user.id)
      .map(({ id, role, customerId, customerName, siteId, siteName }) => ({
        id,
        role,
        customerId,
        customerName,
        siteId,
        siteName,
      })),
  };
}

export async function listUsers(ctx: Context): Promise<UserSummary[]> {
  requirePermission(ctx.caller, "users.manage", null);
  const rows = await ctx.db.select().from(users).orderBy(asc(users.username));
  const grants = await grantsOf(
    ctx.db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => summary(r, grants));
}

export async function getUser(ctx: Context, id: string): Promise<UserSummary> {
  requirePermission(ctx.caller, "users.manage", null);
  const [row] = await ctx.db
    .select()
    .from(users)
    .where(eq(users.id, checkId(id, "User")));
  const user = found(row, "User");
  return summary(user, await grantsOf(ctx.db, [user.id]));
}

/** Creates a local account with a random initial password that must be changed at first sign-in. */
export async function createUser(
  ctx: Context,
  input: unknown,
): Promise<{ user: UserSummary; password: string }> {
  requirePermission(ctx.caller, "users.manage", null);
  const values = parseInput(userInput, input);
  const password = randomPassword();
  const passwordHash = await hashPassword(password);
  const id = await conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      const [row] = await tx
        .insert(users)
        .values({ ...values, passwordHash, mustChangePassword: true })
        .returning({ id: users.id });
      const userId = found(row, "User").id;
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "user.create",
        target: { type: "user", id: userId },
        detail: values,
      });
      return userId;
    }),
  );
  return { user: await getUser(ctx, id), password };
}

/**
 * Changes a user's full name and company (`{displayName, company}`; an empty company means "not
 * recorded"). Audited as user.update with the values before and after; 400 naming the field for
 * bad input, 404 for an unknown user. A provider's company claim overwrites the company at the
 * user's next sign-in through it.
 */
export async function updateUser(
  ctx: Context,
  userId: string,
  input: unknown,
): Promise<UserSummary> {
  const user = await getUser(ctx, userId);
  const values = parseInput(userEdit, input);
  if (values.displayName === user.displayName && values.company === user.company) return user;
  await inTransaction(ctx.db, async (tx) => {
    await tx.update(users).set(values).where(eq(users.id, user.id));
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "user.update",
      target: { type: "user", id: user.id },
      detail: {
        username: user.username,
        before: { displayName: user.displayName, company: user.company },
        after: values,
      },
    });
  });
  return getUser(ctx, user.id);
}

export async function grantRole(ctx: Context, userId: string, input: unknown): Promise<void> {
  const user = await getUser(ctx, userId);
  const grant = parseInput(grantInput, input);
  const problem = grantProblem(grant);
  if (problem) throw new ValidationError(problem.field, problem.reason);
  if (grant.customerId) {
    const [customer] = await ctx.db
      .select({ id: customers.id })
      .from(customers)
      .where(eq(customers.id, checkId(grant.customerId, "Customer")));
    found(customer, "Customer");
  }
  if (grant.siteId) {
    const [site] = await ctx.db
      .select({ customerId: sites.customerId })
      .from(sites)
      .where(eq(sites.id, checkId(grant.siteId, "Site")));
    if (found(site, "Site").customerId !== grant.customerId)
      throw new ValidationError("siteId", "must be a site of the chosen customer");
  }
  await conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      await tx.insert(roleAssignments).values({ userId: user.id, ...grant });
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "role.grant",
        target: { type: "user", id: user.id },
        customerId: grant.customerId,
        detail: {
          role: grant.role,
          username: user.username,
          ...(grant.siteId ? { siteId: grant.siteId } : {}),
        },
      });
    }),
  );
}

/** Removes one grant; the user's portal sessions end so the change takes effect at once. */
export async function revokeRole(ctx: Context, userId: string, grantId: string): Promise<void> {
  const user = await getUser(ctx, userId);
  const grant = found(
    user.grants.find((g) => g.id === grantId),
    "Role assignment",
  );
  if (user.id === ctx.caller.principal.userId && grant.role === "platform_admin") {
    throw new ConflictError("You cannot remove your own platform admin role.");
  }
  await inTransaction(ctx.db, async (tx) => {
    await tx.delete(roleAssignments).where(eq(roleAssignments.id, grant.id));
    await endAllWebSessions(tx, user.id);
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "role.revoke",
      target: { type: "user", id: user.id },
      customerId: grant.customerId,
      detail: { role: grant.role, username: user.username },
    });
  });
}

/** Disables or re-enables an account; disabling ends its sessions everywhere. */
export async function setUserDisabled(
  ctx: Context,
  userId: string,
  disabled: boolean,
): Promise<void> {
  const user = await getUser(ctx, userId);
  if (disabled && user.id === ctx.caller.principal.userId)
    throw new ConflictError("You cannot disable yourself.");
  await inTransaction(ctx.db, async (tx) => {
    await tx
      .update(users)
      .set({ disabledAt: disabled ? ctx.clock.now() : null, failedSignIns: 0, lockedUntil: null })
      .where(eq(users.id, user.id));
    await tx.delete(signInFailures).where(eq(signInFailures.userId, user.id));
    if (disabled) await endAllWebSessions(tx, user.id);
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: disabled ? "user.disable" : "user.enable",
      target: { type: "user", id: user.id },
      detail: { username: user.username },
    });
  });
}

/**
 * For a user who lost password or phone: a new random password to change at next sign-in, the
 * second factor to enrol again, the lockout cleared and all sessions ended.
 */
export async function resetSignIn(ctx: Context, userId: string): Promise<string> {
  const user = await getUser(ctx, userId);
  const password = randomPassword();
  const passwordHash = await hashPassword(password);
  await inTransaction(ctx.db, async (tx) => {
    await tx
      .update(users)
      .set({
        passwordHash,
        mustChangePassword: true,
        totpKey: null,
        totpConfirmedAt: null,
        totpLastStep: null,
        failedSignIns: 0,
        lockedUntil: null,
      })
      .where(eq(users.id, user.id));
    await tx.delete(signInFailures).where(eq(signInFailures.userId, user.id));
    await endAllWebSessions(tx, user.id);
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "user.reset_sign_in",
      target: { type: "user", id: user.id },
      detail: { username: user.username },
    });
  });
  return password;
}

/**
 * Creates a platform admin from the command line or at first start, outside any portal session.
 * Returns the initial password (to be changed at first sign-in).
 */
export async function createAdmin(
  db: Db,
  clock: Clock,
  input: { username: string; displayName?: string; via: string },
): Promise<string> {
  const { username, displayName } = parseInput(
    z.object({ username: usernameSchema, displayName: nameSchema.optional() }),
    { username: input.username, displayName: input.displayName },
  );
  const password = randomPassword();
  const passwordHash = await hashPassword(password);
  await conflictOnDuplicate(() =>
    inTransaction(db, async (tx) => {
      const [row] = await tx
        .insert(users)
        .values({
          username,
          displayName: displayName ?? username,
          passwordHash,
          mustChangePassword: true,
        })
        .returning({ id: users.id });
      const userId = found(row, "User").id;
      await tx.insert(roleAssignments).values({ userId, role: "platform_admin", customerId: null });
      await recordAudit(tx, clock, {
        actor: SYSTEM_ACTOR,
        action: "user.create",
        target: { type: "user", id: userId },
        detail: { username, role: "platform_admin", via: input.via },
      });
    }),
  );
  return password;
}

/** Whether any enabled platform admin exists (first start creates one when not). */
export async function hasAdmin(db: Db): Promise<boolean> {
  const rows = await db
    .select({ id: users.id })
    .from(users)
    .innerJoin(roleAssignments, eq(roleAssignments.userId, users.id))
    .where(and(eq(roleAssignments.role, "platform_admin"), isNull(users.disabledAt)))
    .limit(1);
  return rows.length > 0;
}
