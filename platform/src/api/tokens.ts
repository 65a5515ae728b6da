// API tokens: made by a user for themselves (or for a service account by a user admin), carrying
// role grants no wider than their creator's, expiring, stored only as a SHA-256 hash, shown once,
// revocable. At each use the token is worth at most what its creator may still do.
import { createHash } from "node:crypto";
import { encodeBase64urlNoPadding } from "@oslojs/encoding";
import { and, desc, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import {
  type Context,
  checkId,
  found,
  grantProblem,
  grantsWithin,
  hasPermission,
  type Principal,
} from "../access/index.ts";
import { recordAudit } from "../audit/index.ts";
import {
  apiTokens,
  type Db,
  inTransaction,
  ROLES,
  roleAssignments,
  type TokenGrant,
  users,
} from "../db/index.ts";
import {
  type Clock,
  ForbiddenError,
  nameSchema,
  parseInput,
  ValidationError,
} from "../shared/index.ts";

export type ApiToken = typeof apiTokens.$inferSelect;
export type ApiTokenView = Omit<ApiToken, "secretHash">;

/** Tokens start with this, so secret scanners and people recognise them. */
export const TOKEN_PREFIX = "mpt_";

const DAY_MS = 86_400_000;

export const tokenInput = z.object({
  name: nameSchema,
  /** Validity in days (1 … MEETPOINT_API_TOKEN_MAX_DAYS). */
  days: z.coerce
    .number({ error: "must be a number" })
    .int("must be whole days")
    .min(1, "at least 1 day"),
  grants: z
    .array(
      z.object({
        role: z.enum(ROLES, { error: "choose a role" }),
        customerId: z.uuid({ error: "must be a customer id" }).nullable(),
      }),
    )
    .min(1, "a token needs at least one role"),
  /** A service account's name: the token acts as that account, not as its creator. */
  serviceAccount: z
    .string()
    .trim()
    .regex(/^[a-z0-9][a-z0-9._-]{1,39}$/, "2–40 characters: lower-case letters, digits, . _ -")
    .optional(),
});

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

const view = ({ secretHash: _hidden, ...rest }: ApiToken): ApiTokenView => rest;

/** Creates a token; returns it once (only its hash is kept). */
export async function createApiToken(
  ctx: Context,
  input: unknown,
  maxDays: number,
): Promise<{ token: string; view: ApiTokenView }> {
  const values = parseInput(tokenInput, input);
  if (values.days > maxDays)
    throw new ValidationError("days", `at most ${maxDays} (MEETPOINT_API_TOKEN_MAX_DAYS)`);
  for (const [index, grant] of values.grants.entries()) {
    const problem = grantProblem(grant);
    if (problem) throw new ValidationError(`grants.${index}`, problem.reason);
  }
  const principal = ctx.caller.principal;
  if (values.serviceAccount && !hasPermission(principal, "users.manage"))
    throw new ForbiddenError("Only user administrators create tokens for service accounts.");
  if (!grantsWithin(principal, values.grants))
    throw new ForbiddenError("A token cannot carry rights beyond yours.");
  const token = `${TOKEN_PREFIX}${encodeBase64urlNoPadding(crypto.getRandomValues(new Uint8Array(32)))}`;
  const expiresAt = new Date(ctx.clock.now().getTime() + values.days * DAY_MS);
  return inTransaction(ctx.db, async (tx) => {
    const [row] = await tx
      .insert(apiTokens)
      .values({
        name: values.name,
        userId: principal.userId,
        serviceAccount: values.serviceAccount ?? null,
        secretHash: hashToken(token),
        grants: values.grants,
        expiresAt,
      })
      .returning();
    const created = found(row, "API token");
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "api_token.create",
      target: { type: "api_token", id: created.id },
      customerId: values.grants.length === 1 ? (values.grants[0]?.customerId ?? null) : null,
      detail: {
        name: values.name,
        grants: values.grants,
        expiresAt: expiresAt.toISOString(),
        serviceAccount: values.serviceAccount ?? null,
      },
    });
    return { token, view: view(created) };
  });
}

/**
 * Whose tokens a caller may see and revoke. A person in the portal: their own; user
 * administrators: every token. A request made with a token (`viaToken`, the admin API): a token
 * whose rights include user administration sees every token, any other only itself — a read-only
 * or customer token must not reach its creator's other tokens.
 */
export interface TokenReach {
  /** The id of the API token the request came with; absent in the portal. */
  viaToken?: string;
}

/** The tokens the caller may see (see TokenReach). Newest first. */
export async function listApiTokens(ctx: Context, reach: TokenReach = {}): Promise<ApiTokenView[]> {
  const all = hasPermission(ctx.caller.principal, "users.manage");
  const rows = await ctx.db
    .select()
    .from(apiTokens)
    .where(
      all
        ? undefined
        : reach.viaToken
          ? eq(apiTokens.id, reach.viaToken)
          : eq(apiTokens.userId, ctx.caller.principal.userId),
    )
    .orderBy(desc(apiTokens.createdAt));
  return rows.map(view);
}

/** Revokes a token the caller may see (see TokenReach). Others' ids answer 404. */
export async function revokeApiToken(
  ctx: Context,
  id: string,
  reach: TokenReach = {},
): Promise<void> {
  const mine = (await listApiTokens(ctx, reach)).find((t) => t.id === checkId(id, "API token"));
  const token = found(mine, "API token");
  if (token.revokedAt) return;
  await inTransaction(ctx.db, async (tx) => {
    await tx
      .update(apiTokens)
      .set({ revokedAt: ctx.clock.now(), revokedBy: ctx.caller.principal.userId })
      .where(eq(apiTokens.id, token.id));
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "api_token.revoke",
      target: { type: "api_token", id: token.id },
      detail: { name: token.name, serviceAccount: token.serviceAccount },
    });
  });
}

export type TokenCheck =
  | { ok: true; token: ApiTokenView; principal: Principal; actorName: string }
  | {
      ok: false;
      reason: "missing" | "unknown" | "expired" | "revoked" | "owner disabled";
      token: ApiTokenView | null;
    };

/**
 * Checks a bearer token: known, unexpired, unrevoked, its creator still enabled. The principal
 * carries only the grants its creator still holds the rights for (a role taken from the creator
 * leaves the token).
 */
export async function checkApiToken(
  db: Db,
  clock: Clock,
  bearer: string | null,
): Promise<TokenCheck> {
  if (!bearer?.startsWith(TOKEN_PREFIX))
    return { ok: false, reason: bearer ? "unknown" : "missing", token: null };
  const [row] = await db
    .select({ token: apiTokens, user: users })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(eq(apiTokens.secretHash, hashToken(bearer)));
  if (!row) return { ok: false, reason: "unknown", token: null };
  const token = view(row.token);
  if (token.revokedAt) return { ok: false, reason: "revoked", token };
  if (token.expiresAt <= clock.now()) return { ok: false, reason: "expired", token };
  if (row.user.disabledAt) return { ok: false, reason: "owner disabled", token };
  const held = await db
    .select({
      role: roleAssignments.role,
      customerId: roleAssignments.customerId,
      siteId: roleAssignments.siteId,
    })
    .from(roleAssignments)
    .where(inArray(roleAssignments.userId, [row.user.id]));
  const owner: Principal = {
    userId: row.user.id,
    username: row.user.username,
    displayName: row.user.displayName,
    grants: held,
  };
  const grants = (token.grants as TokenGrant[]).filter((g) => grantsWithin(owner, [g]));
  await db
    .update(apiTokens)
    .set({ lastUsedAt: clock.now() })
    .where(and(eq(apiTokens.id, token.id)));
  const actorName = token.serviceAccount
    ? `service:${token.serviceAccount}`
    : `${row.user.username} (token ${token.name})`;
  return { ok: true, token, principal: { ...owner, grants }, actorName };
}
