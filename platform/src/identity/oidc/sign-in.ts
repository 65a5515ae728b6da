// Sign-in through an identity provider, start to finish: the redirect (state, nonce and PKCE kept
// server-side, bound to the browser), and the callback — spent once, ID token checked, groups
// mapped to roles, MFA policy applied, the user provisioned or updated. Any failure refuses the
// sign-in with a clear message, provisions nothing and writes a failed-sign-in audit entry.
import { createHash } from "node:crypto";
import { and, eq, isNotNull, lt } from "drizzle-orm";
import { type Actor, recordAudit, recordAuditAlone } from "../../audit/index.ts";
import {
  type Db,
  identityProviderMappings,
  identityProviders,
  inTransaction,
  type OidcTokens,
  oidcLogins,
  roleAssignments,
  type SignInStage,
  users,
} from "../../db/index.ts";
import type { Pki } from "../../pki/index.ts";
import type { Clock } from "../../shared/index.ts";
import { endAllWebSessions } from "../web-sessions.ts";
import { type OidcClients, OidcError, OidcSetupError, OidcUnreachableError } from "./client.ts";
import { companyOf, grantsFor, groupsOf, groupsOverage, mfaAsserted, policyFor } from "./policy.ts";
import { type IdentityProvider, mfaPolicyTable } from "./providers.ts";

export const TOKEN_LABEL = "oidc-session-token";
/** How long a started sign-in waits for its callback. */
const LOGIN_TTL_MS = 10 * 60_000;

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

export interface OidcDeps {
  db: Db;
  clock: Clock;
  pki: Pick<Pki, "sealSecret" | "unsealSecret">;
  clients: OidcClients;
}

export type OidcOutcome =
  | { ok: true; userId: string; stage: SignInStage; tokens: OidcTokens }
  | { ok: false; message: string; anonymous?: boolean };

async function providerBySlug(db: Db, slug: string): Promise<IdentityProvider | null> {
  if (!/^[a-z0-9-]{1,31}$/.test(slug)) return null;
  const [row] = await db
    .select()
    .from(identityProviders)
    .where(and(eq(identityProviders.slug, slug), eq(identityProviders.enabled, true)));
  return row ?? null;
}

/** What a visitor is told when the provider cannot be reached (the details are logged). */
function unavailable(name: string): string {
  return `Sign-in with ${name} is not available right now. Try again in a few minutes; if it keeps failing, tell your administrator.`;
}

async function refuse(
  deps: OidcDeps,
  actor: Actor,
  reason: string,
  message: string,
  detail: Record<string, unknown> = {},
): Promise<OidcOutcome> {
  await recordAuditAlone(deps.db, deps.clock, {
    actor,
    action: "sign_in",
    result: "failed",
    detail: { method: "oidc", reason, ...detail },
  });
  return { ok: false, message };
}

/** Starts a sign-in: where to send the browser. `browser` is its pre-session cookie value. */
export async function beginOidcSignIn(
  deps: OidcDeps,
  slug: string,
  browser: string,
  ip: string,
): Promise<{ ok: true; url: string } | { ok: false; message: string; anonymous?: boolean }> {
  const actor: Actor = { id: null, name: `(sign-in via ${slug.slice(0, 40)})`, ip };
  const provider = await providerBySlug(deps.db, slug);
  // Names nothing: not audited here; the caller audits such attempts in aggregate per source.
  if (!provider)
    return { ok: false, message: "This sign-in option does not exist.", anonymous: true };
  let start: Awaited<ReturnType<OidcClients["begin"]>>;
  try {
    start = await deps.clients.begin(provider);
  } catch (error) {
    const setup = error instanceof OidcSetupError;
    // The details (addresses, system errors) go to the log and the audit entry; a signed-out
    // visitor learns only that this way of signing in does not work right now.
    if (!setup) console.error(`sign-in via ${provider.slug}: ${(error as Error).message}`);
    const outcome = await refuse(
      deps,
      actor,
      setup ? "provider set up wrongly" : "provider unreachable",
      setup
        ? `Sign-in with ${provider.displayName} is not set up correctly, so it was refused: ${(error as Error).message}. Tell your administrator.`
        : unavailable(provider.displayName),
      { provider: provider.slug, problem: (error as Error).message.slice(0, 300) },
    );
    return outcome as { ok: false; message: string };
  }
  const now = deps.clock.now();
  await deps.db.delete(oidcLogins).where(lt(oidcLogins.expiresAt, now));
  await deps.db.insert(oidcLogins).values({
    stateHash: sha256(start.state),
    providerId: provider.id,
    nonce: start.nonce,
    codeVerifier: start.codeVerifier,
    browserHash: sha256(browser),
    createdAt: now,
    expiresAt: new Date(now.getTime() + LOGIN_TTL_MS),
  });
  return { ok: true, url: start.url };
}

/** The callback: `callbackUrl` is the full URL the provider sent the browser to. */
export async function completeOidcSignIn(
  deps: OidcDeps,
  slug: string,
  callbackUrl: URL,
  browser: string,
  ip: string,
): Promise<OidcOutcome> {
  const actor: Actor = { id: null, name: `(sign-in via ${slug.slice(0, 40)})`, ip };
  const provider = await providerBySlug(deps.db, slug);
  if (!provider)
    return { ok: false, message: "This sign-in option does not exist.", anonymous: true };
  const name = provider.displayName;
  const state = callbackUrl.searchParams.get("state") ?? "";
  // Spend the started sign-in: a state works once, for this provider and this browser only.
  const [login] = await deps.db
    .delete(oidcLogins)
    .where(and(eq(oidcLogins.stateHash, sha256(state)), eq(oidcLogins.providerId, provider.id)))
    .returning();
  if (!login || login.expiresAt < deps.clock.now())
    return refuse(
      deps,
      actor,
      "unknown, used or expired state",
      `This sign-in link was already used or has expired. Start again with "${name}".`,
      { provider: provider.slug },
    );
  if (login.browserHash !== sha256(browser))
    return refuse(
      deps,
      actor,
      "state from another browser",
      `This sign-in was started in another browser. Start again with "${name}".`,
      { provider: provider.slug },
    );
  const providerError = callbackUrl.searchParams.get("error");
  if (providerError) {
    const description = (callbackUrl.searchParams.get("error_description") ?? "").slice(0, 200);
    return refuse(
      deps,
      actor,
      `provider error ${providerError.slice(0, 60)}`,
      `${name} did not sign you in: ${providerError.slice(0, 60)}${description ? ` (${description})` : ""}.`,
      { provider: provider.slug },
    );
  }

  let result: Awaited<ReturnType<OidcClients["complete"]>>;
  try {
    result = await deps.clients.complete(provider, callbackUrl, { ...login, state });
  } catch (error) {
    const reason = error instanceof OidcError ? error.message : String(error);
    const network = error instanceof OidcUnreachableError || !(error instanceof OidcError);
    if (network) console.error(`sign-in via ${provider.slug}: ${reason}`);
    return refuse(
      deps,
      actor,
      `${network ? "provider unreachable" : "ID token or code refused"}: ${reason.slice(0, 300)}`,
      network
        ? unavailable(name)
        : `The sign-in at ${name} could not be verified, so it was refused (${reason.slice(0, 200)}).`,
      { provider: provider.slug },
    );
  }
  const claims = result.claims;
  const subject = String(claims.sub ?? "");
  const who: Actor = {
    ...actor,
    name: `${String(claims.preferred_username ?? subject).slice(0, 100)}@${provider.slug}`,
  };

  const mappings = await deps.db
    .select()
    .from(identityProviderMappings)
    .where(eq(identityProviderMappings.providerId, provider.id));
  const groups = groupsOf(claims, provider.groupsClaim);
  if (groups.length === 0 && groupsOverage(claims, provider.groupsClaim))
    return refuse(
      deps,
      who,
      "group overage",
      `${name} left your groups out of the sign-in: you are in more groups than fit into a token ("group overage" in Entra ID), so Meetpoint cannot see which role you have. Your administrator must narrow the "${provider.groupsClaim}" claim at ${name} — emit only the groups assigned to the application (group filtering), or use app roles and the "roles" claim.`,
      { provider: provider.slug },
    );
  const grants = grantsFor(groups, mappings);
  if (grants.length === 0)
    return refuse(
      deps,
      who,
      "no mapped role",
      `Your account at ${name} has no role in Meetpoint (groups: ${groups.join(", ").slice(0, 200) || "none"}). Ask your administrator.`,
      { provider: provider.slug, groups: groups.slice(0, 50) },
    );

  const policy = policyFor(
    grants.map((g) => g.role),
    await mfaPolicyTable(deps.db),
  );
  const mfa = mfaAsserted(claims, provider);
  if (!mfa && policy === "provider")
    return refuse(
      deps,
      who,
      "provider did not assert MFA",
      `${name} did not confirm a second factor for this sign-in (amr: ${Array.isArray(claims.amr) ? claims.amr.join(", ") : "none"}), and your role requires it. Sign in at ${name} with your second factor.`,
      { provider: provider.slug, amr: claims.amr ?? null, acr: claims.acr ?? null },
    );

  const provisioned = await provision(deps, provider, claims, grants, who);
  if (!provisioned.ok)
    return refuse(deps, who, provisioned.reason, provisioned.message, { provider: provider.slug });
  const { user } = provisioned;
  const stage: SignInStage = mfa ? "ready" : user.totpConfirmedAt ? "totp" : "enrol_totp";
  if (stage === "ready")
    await recordAuditAlone(deps.db, deps.clock, {
      actor: { ...who, id: user.id },
      action: "sign_in",
      target: { type: "user", id: user.id },
      detail: { method: "oidc", provider: provider.slug, mfa: "provider", amr: claims.amr ?? null },
    });
  return {
    ok: true,
    userId: user.id,
    stage,
    tokens: {
      providerId: provider.id,
      idTokenSealed: await deps.pki.sealSecret(TOKEN_LABEL, result.idToken),
      refreshTokenSealed: result.refreshToken
        ? await deps.pki.sealSecret(TOKEN_LABEL, result.refreshToken)
        : null,
      refreshAfter: deps.clock.now().getTime() + result.expiresIn * 1000,
    },
  };
}

type User = typeof users.$inferSelect;

/**
 * Creates the user at first sign-in or updates name, company and mapped roles; mapped roles are
 * replaced by what the groups say now, and when some were removed the user's other sessions end.
 * The company follows the provider's company claim when the token carries one (a change is
 * audited as user.company_sync); without the claim the company stays as it is.
 */
async function provision(
  deps: OidcDeps,
  provider: IdentityProvider,
  claims: Record<string, unknown>,
  grants: { role: (typeof roleAssignments.$inferSelect)["role"]; customerId: string | null }[],
  actor: Actor,
): Promise<{ ok: true; user: User } | { ok: false; reason: string; message: string }> {
  const subject = String(claims.sub);
  const displayName = String(claims.name ?? claims.preferred_username ?? subject).slice(0, 200);
  const company = companyOf(claims, provider.companyClaim);
  return inTransaction(deps.db, async (tx) => {
    let [user] = await tx
      .select()
      .from(users)
      .where(and(eq(users.identityProviderId, provider.id), eq(users.subject, subject)));
    if (user?.disabledAt)
      return {
        ok: false as const,
        reason: "account disabled",
        message: "Your Meetpoint account is disabled. Ask your administrator.",
      };
    if (!user) {
      const base = `${String(claims.preferred_username ?? subject)
        .replace(/[^A-Za-z0-9._-]/g, "_")
        .slice(0, 60)}@${provider.slug}`;
      let username = base;
      for (
        let n = 2;
        (await tx.select({ id: users.id }).from(users).where(eq(users.username, username))).length;
        n++
      )
        username = `${base}-${n}`;
      [user] = await tx
        .insert(users)
        .values({ username, displayName, company, identityProviderId: provider.id, subject })
        .returning();
      if (!user) throw new Error("user not stored");
      await recordAudit(tx, deps.clock, {
        actor: { ...actor, id: user.id },
        action: "user.provision",
        target: { type: "user", id: user.id },
        detail: { provider: provider.slug, username, company },
      });
    } else {
      if (user.displayName !== displayName)
        await tx.update(users).set({ displayName }).where(eq(users.id, user.id));
      if (company !== null && user.company !== company) {
        await tx.update(users).set({ company }).where(eq(users.id, user.id));
        await recordAudit(tx, deps.clock, {
          actor: { ...actor, id: user.id },
          action: "user.company_sync",
          target: { type: "user", id: user.id },
          detail: {
            provider: provider.slug,
            claim: provider.companyClaim,
            before: user.company,
            after: company,
          },
        });
      }
    }
    const before = await tx
      .select()
      .from(roleAssignments)
      .where(and(eq(roleAssignments.userId, user.id), isNotNull(roleAssignments.providerId)));
    const key = (g: { role: string; customerId: string | null }) => `${g.role}/${g.customerId}`;
    const wanted = new Set(grants.map(key));
    const had = new Set(before.map(key));
    const removed = before.filter((g) => !wanted.has(key(g)));
    const added = grants.filter((g) => !had.has(key(g)));
    for (const g of removed) await tx.delete(roleAssignments).where(eq(roleAssignments.id, g.id));
    for (const g of added)
      await tx
        .insert(roleAssignments)
        .values({
          userId: user.id,
          role: g.role,
          customerId: g.customerId,
          providerId: provider.id,
        })
        .onConflictDoNothing();
    if (removed.length) await endAllWebSessions(tx, user.id);
    if (removed.length || added.length)
      await recordAudit(tx, deps.clock, {
        actor: { ...actor, id: user.id },
        action: "role.sync",
        target: { type: "user", id: user.id },
        detail: { provider: provider.slug, added: added.map(key), removed: removed.map(key) },
      });
    return { ok: true as const, user };
  });
}

/** Deletes started sign-ins that were never completed (called now and then). */
export async function forgetStaleLogins(db: Db, now: Date): Promise<void> {
  await db.delete(oidcLogins).where(lt(oidcLogins.expiresAt, now));
}
