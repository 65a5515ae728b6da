// A portal session that came from an identity provider: refreshed when its access token has
// expired (so a user the provider disabled loses the portal within minutes), and ended at the
// provider too on sign-out (RP-initiated logout).
import { eq } from "drizzle-orm";
import { identityProviders } from "../../db/index.ts";
import { updateWebSessionTokens, type WebSession } from "../web-sessions.ts";
import type { OidcDeps } from "./sign-in.ts";
import { TOKEN_LABEL } from "./sign-in.ts";

/** Refreshes when due; false means the provider no longer vouches for the user (end the session). */
export async function keepOidcSessionAlive(deps: OidcDeps, session: WebSession): Promise<boolean> {
  const tokens = session.oidc;
  if (!tokens || deps.clock.now().getTime() < tokens.refreshAfter) return true;
  const [provider] = await deps.db
    .select()
    .from(identityProviders)
    .where(eq(identityProviders.id, tokens.providerId));
  if (!provider?.enabled || !tokens.refreshTokenSealed) return false;
  try {
    const refreshToken = await deps.pki.unsealSecret(TOKEN_LABEL, tokens.refreshTokenSealed);
    const fresh = await deps.clients.refresh(provider, refreshToken);
    await updateWebSessionTokens(deps.db, session.id, {
      ...tokens,
      refreshTokenSealed: await deps.pki.sealSecret(TOKEN_LABEL, fresh.refreshToken),
      refreshAfter: deps.clock.now().getTime() + fresh.expiresIn * 1000,
    });
    return true;
  } catch {
    return false;
  }
}

/** The provider's end-session URL for this session, or null (local accounts, no endpoint). */
export async function providerLogoutUrl(
  deps: OidcDeps,
  session: WebSession,
): Promise<string | null> {
  const tokens = session.oidc;
  if (!tokens) return null;
  const [provider] = await deps.db
    .select()
    .from(identityProviders)
    .where(eq(identityProviders.id, tokens.providerId));
  if (!provider) return null;
  try {
    const idToken = await deps.pki.unsealSecret(TOKEN_LABEL, tokens.idTokenSealed);
    return await deps.clients.logoutUrl(provider, idToken);
  } catch {
    return null;
  }
}
