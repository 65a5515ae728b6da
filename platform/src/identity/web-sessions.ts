// Server-side portal sessions: the cookie holds a random token, the database its SHA-256.
import { createHash } from "node:crypto";
import { encodeBase64urlNoPadding } from "@oslojs/encoding";
import { eq } from "drizzle-orm";
import type { Principal } from "../access/index.ts";
import {
  type Db,
  type OidcTokens,
  roleAssignments,
  type SignInStage,
  users,
  webSessions,
} from "../db/index.ts";
import type { Clock } from "../shared/index.ts";

export interface SessionPolicy {
  idleMs: number;
  absoluteMs: number;
}

export interface WebSession {
  id: string;
  stage: SignInStage;
  csrfToken: string;
  principal: Principal;
  createdAt: Date;
  /** Set when the user signed in through an identity provider. */
  oidc: OidcTokens | null;
}

// lastSeenAt is written at most this often, so page views do not each cost a write.
const TOUCH_INTERVAL_MS = 60_000;

export function randomToken(): string {
  return encodeBase64urlNoPadding(crypto.getRandomValues(new Uint8Array(32)));
}

function tokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Starts a session for `userId` at `stage`; returns the cookie value. */
export async function createWebSession(
  db: Db,
  clock: Clock,
  input: {
    userId: string;
    stage: SignInStage;
    ip: string;
    userAgent: string;
    oidc?: OidcTokens | null;
  },
): Promise<string> {
  const token = randomToken();
  const now = clock.now();
  await db.insert(webSessions).values({
    id: tokenHash(token),
    userId: input.userId,
    stage: input.stage,
    csrfToken: randomToken(),
    ip: input.ip,
    userAgent: input.userAgent.slice(0, 300),
    createdAt: now,
    lastSeenAt: now,
    oidc: input.oidc ?? null,
  });
  return token;
}

/**
 * The live session behind a cookie value, or null when unknown, idle too long, past its absolute
 * lifetime, or its user is disabled. Expired sessions are deleted on sight.
 */
export async function loadWebSession(
  db: Db,
  clock: Clock,
  policy: SessionPolicy,
  token: string,
): Promise<WebSession | null> {
  return loadWebSessionById(db, clock, policy, tokenHash(token));
}

/**
 * loadWebSession by the session's id (WebSession.id, the token's hash): for work that outlives
 * the request that began it (a workspace's desktop connection re-checks its sign-in with it; each
 * check counts as activity, as a request would).
 */
export async function loadWebSessionById(
  db: Db,
  clock: Clock,
  policy: SessionPolicy,
  id: string,
): Promise<WebSession | null> {
  const [row] = await db
    .select({ session: webSessions, user: users })
    .from(webSessions)
    .innerJoin(users, eq(users.id, webSessions.userId))
    .where(eq(webSessions.id, id));
  if (!row) return null;
  const now = clock.now().getTime();
  const { session, user } = row;
  const expired =
    now - session.lastSeenAt.getTime() > policy.idleMs ||
    now - session.createdAt.getTime() > policy.absoluteMs;
  if (expired || user.disabledAt) {
    await db.delete(webSessions).where(eq(webSessions.id, id));
    return null;
  }
  if (now - session.lastSeenAt.getTime() > TOUCH_INTERVAL_MS) {
    await db
      .update(webSessions)
      .set({ lastSeenAt: new Date(now) })
      .where(eq(webSessions.id, id));
  }
  const grants = await db
    .select({
      role: roleAssignments.role,
      customerId: roleAssignments.customerId,
      siteId: roleAssignments.siteId,
    })
    .from(roleAssignments)
    .where(eq(roleAssignments.userId, user.id));
  return {
    id,
    stage: session.stage,
    csrfToken: session.csrfToken,
    createdAt: session.createdAt,
    oidc: session.oidc,
    principal: { userId: user.id, username: user.username, displayName: user.displayName, grants },
  };
}

/**
 * Replaces a session by a new one with a new token (and CSRF token) at `stage`: done at every
 * step of sign-in so a cookie seen before sign-in is worthless after it.
 */
export async function rotateWebSession(
  db: Db,
  clock: Clock,
  session: { id: string; principal: { userId: string }; oidc: OidcTokens | null },
  stage: SignInStage,
  client: { ip: string; userAgent: string },
): Promise<string> {
  await db.delete(webSessions).where(eq(webSessions.id, session.id));
  return createWebSession(db, clock, {
    userId: session.principal.userId,
    stage,
    ...client,
    oidc: session.oidc,
  });
}

export async function endWebSession(db: Db, sessionId: string): Promise<void> {
  await db.delete(webSessions).where(eq(webSessions.id, sessionId));
}

/** Ends every session of a user (disabled, password reset, roles removed). */
export async function endAllWebSessions(db: Db, userId: string): Promise<void> {
  await db.delete(webSessions).where(eq(webSessions.userId, userId));
}

/** Stores refreshed identity-provider tokens for a session. */
export async function updateWebSessionTokens(
  db: Db,
  sessionId: string,
  oidc: OidcTokens,
): Promise<void> {
  await db.update(webSessions).set({ oidc }).where(eq(webSessions.id, sessionId));
}
