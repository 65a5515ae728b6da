// The one adapter for openid-client: discovery (trusting the provider's own CA where configured),
// the authorization code flow with PKCE, state and nonce, strict ID token validation (signature
// from the provider's keys, an asymmetric algorithm its metadata lists or the admin pinned),
// refresh, and RP-initiated logout.
import * as oidc from "openid-client";
import type { Pki } from "../../pki/index.ts";
import { idTokenAlgorithms } from "./algorithms.ts";
import { CREDENTIAL_LABEL, type IdentityProvider } from "./providers.ts";

export interface SignInStart {
  url: string;
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface SignInResult {
  claims: Record<string, unknown>;
  idToken: string;
  refreshToken: string | null;
  /** Seconds the access token is valid (the provider's expires_in; 300 when it does not say). */
  expiresIn: number;
}

/** Why a provider exchange failed, in words for the person signing in and for the audit log. */
export class OidcError extends Error {}

/** The provider answers, but its metadata does not fit its settings here: an admin must act. */
export class OidcSetupError extends OidcError {}
/**
 * The provider could not be reached or did not answer (connection refused, timeout, TLS): the
 * message holds addresses and system errors, for the log and the audit entry, not for the user.
 */
export class OidcUnreachableError extends OidcError {}

/** Whether a failure is the network's rather than the provider's answer. */
function unreachable(error: unknown): boolean {
  return (
    error instanceof TypeError ||
    /ECONN|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ConnectionRefused|Unable to connect|fetch failed|timed? ?out|certificate|CERT_|TLS/i.test(
      describe(error),
    )
  );
}

const CACHE_MS = 10 * 60_000;

function describe(error: unknown): string {
  const e = error as {
    message?: string;
    code?: string;
    error?: string;
    error_description?: string;
    cause?: unknown;
  };
  if (e?.error) return `${e.error}${e.error_description ? `: ${e.error_description}` : ""}`;
  const cause = e?.cause as { message?: string } | undefined;
  const base = e?.message ?? String(error);
  return cause?.message && !base.includes(cause.message) ? `${base} (${cause.message})` : base;
}

function issuerMismatch(provider: IdentityProvider, announced: string): string {
  return `${provider.displayName} calls itself "${announced}", but its issuer is entered as "${provider.issuer}": enter it exactly as the provider writes it`;
}

/** The issuer a discovery document announced, when discovery failed because it differs. */
function announcedIssuer(error: unknown): string | null {
  const cause = (error as { cause?: { attribute?: unknown; body?: { issuer?: unknown } } }).cause;
  return cause?.attribute === "issuer" && typeof cause.body?.issuer === "string"
    ? cause.body.issuer
    : null;
}

export class OidcClients {
  private cache = new Map<string, { key: string; at: number; config: oidc.Configuration }>();

  constructor(
    private readonly pki: Pick<Pki, "unsealSecret">,
    /** The portal's public origin, e.g. https://meetpoint.example.com */
    private readonly publicUrl: string,
  ) {}

  redirectUri(provider: { slug: string }): string {
    return `${this.publicUrl}/sign-in/oidc/${provider.slug}/callback`;
  }

  get signedOutUri(): string {
    return `${this.publicUrl}/sign-in`;
  }

  private async config(provider: IdentityProvider): Promise<oidc.Configuration> {
    const key = JSON.stringify([
      provider.issuer,
      provider.clientId,
      provider.clientAuth,
      provider.clientCredentialSealed,
      provider.caPem,
      provider.idTokenAlg,
    ]);
    const cached = this.cache.get(provider.id);
    if (cached && cached.key === key && Date.now() - cached.at < CACHE_MS) return cached.config;
    const credential = await this.pki.unsealSecret(
      CREDENTIAL_LABEL,
      provider.clientCredentialSealed,
    );
    let auth: oidc.ClientAuth;
    if (provider.clientAuth === "client_secret_basic") auth = oidc.ClientSecretBasic(credential);
    else {
      const jwk = JSON.parse(credential) as JsonWebKey & { kid: string };
      const { kid, ...keyData } = jwk;
      const privateKey = await crypto.subtle.importKey(
        "jwk",
        keyData,
        { name: "ECDSA", namedCurve: "P-256" },
        false,
        ["sign"],
      );
      auth = oidc.PrivateKeyJwt({ key: privateKey, kid });
    }
    const ca = provider.caPem;
    const fetchWithTrust: oidc.CustomFetch | undefined = ca
      ? (url, options) => fetch(url, { ...(options as RequestInit), tls: { ca } } as RequestInit)
      : undefined;
    let discovered: oidc.Configuration;
    try {
      discovered = await oidc.discovery(
        new URL(provider.issuer),
        provider.clientId,
        undefined,
        auth,
        {
          ...(fetchWithTrust ? { [oidc.customFetch]: fetchWithTrust } : {}),
          timeout: 10,
        },
      );
    } catch (error) {
      const announced = announcedIssuer(error);
      if (announced !== null)
        throw new OidcSetupError(issuerMismatch(provider, announced), { cause: error });
      throw new OidcUnreachableError(
        `cannot reach ${provider.displayName} (${provider.issuer}): ${describe(error)}`,
        { cause: error },
      );
    }
    const server = discovered.serverMetadata();
    // Discovery compares issuers as parsed URLs; OpenID Connect Discovery 1.0 §4.3 wants the very
    // string, and so does every ID token's iss. A slash more or less is told to the admin here.
    if (server.issuer !== provider.issuer)
      throw new OidcSetupError(issuerMismatch(provider, server.issuer));
    const choice = idTokenAlgorithms(
      server.id_token_signing_alg_values_supported,
      provider.idTokenAlg,
    );
    if (!choice.ok)
      throw new OidcSetupError(`${provider.displayName} cannot be used: ${choice.problem}`);
    // The token's own header never chooses: its alg must be one of these, verified with a key of
    // the provider's JWKS (non-repudiation checks below).
    const { supportsPKCE: _method, ...metadata } = server;
    const config = new oidc.Configuration(
      { ...metadata, id_token_signing_alg_values_supported: choice.algorithms },
      provider.clientId,
      provider.idTokenAlg ? { id_token_signed_response_alg: provider.idTokenAlg } : {},
      auth,
    );
    if (fetchWithTrust) config[oidc.customFetch] = fetchWithTrust;
    // Verify ID token signatures against the provider's published keys.
    oidc.enableNonRepudiationChecks(config);
    this.cache.set(provider.id, { key, at: Date.now(), config });
    return config;
  }

  /** The provider's authorization URL for a new sign-in, with fresh state, nonce and PKCE. */
  async begin(provider: IdentityProvider): Promise<SignInStart> {
    const config = await this.config(provider);
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri(provider),
      scope: provider.scopes,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: "S256",
      state,
      nonce,
    });
    return { url: url.href, state, nonce, codeVerifier };
  }

  /** Exchanges the callback's code; every check of the ID token must pass. */
  async complete(
    provider: IdentityProvider,
    callbackUrl: URL,
    checks: { state: string; nonce: string; codeVerifier: string },
  ): Promise<SignInResult> {
    const config = await this.config(provider);
    try {
      const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (!claims || !tokens.id_token) throw new OidcError("no ID token");
      return {
        claims: claims as Record<string, unknown>,
        idToken: tokens.id_token,
        refreshToken: tokens.refresh_token ?? null,
        expiresIn: tokens.expiresIn() ?? 300,
      };
    } catch (error) {
      if (error instanceof OidcError) throw error;
      if (unreachable(error))
        throw new OidcUnreachableError(
          `cannot reach ${provider.displayName}'s token endpoint: ${describe(error)}`,
          { cause: error },
        );
      throw new OidcError(describe(error), { cause: error });
    }
  }

  /** A refresh while the portal session lives: fails when the provider ended the user's access. */
  async refresh(
    provider: IdentityProvider,
    refreshToken: string,
  ): Promise<{ refreshToken: string; expiresIn: number }> {
    const config = await this.config(provider);
    try {
      const tokens = await oidc.refreshTokenGrant(config, refreshToken);
      return {
        refreshToken: tokens.refresh_token ?? refreshToken,
        expiresIn: tokens.expiresIn() ?? 300,
      };
    } catch (error) {
      throw new OidcError(describe(error), { cause: error });
    }
  }

  /** Where to send the browser to sign out at the provider too, if it offers that. */
  async logoutUrl(provider: IdentityProvider, idToken: string): Promise<string | null> {
    try {
      const config = await this.config(provider);
      if (!config.serverMetadata().end_session_endpoint) return null;
      return oidc.buildEndSessionUrl(config, {
        id_token_hint: idToken,
        post_logout_redirect_uri: this.signedOutUri,
      }).href;
    } catch {
      return null;
    }
  }
}
