// Identity providers as their vendors ship them: the discovery documents of Keycloak, Microsoft
// Entra ID, Auth0 and authentik (paths, issuer spelling, algorithm lists and endpoints as their
// public documentation shows them), served over HTTPS by a small handmade provider whose ID tokens
// the test mints. Its authorization endpoint signs the browser in at once and sends it back.
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { tlsCertificate } from "../../../lab/idp/provider.ts";

export type Vendor = "keycloak" | "entra" | "auth0" | "authentik";

/** A signing key of the provider, published in its JWKS under `kid`. */
export interface ProviderKey {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  jwk: Record<string, unknown>;
}

export async function providerKey(
  alg: "RS256" | "ES256" | "ES384" | "PS256",
  kid: string,
  publish: Record<string, unknown> = {},
): Promise<ProviderKey> {
  const pair = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(pair.publicKey)), kid, use: "sig", ...publish };
  return { alg, kid, privateKey: pair.privateKey, jwk };
}

/** What the test's token endpoint answers with: the claims of the ID token and how it is signed. */
export type Mint = (nonce: string) => Promise<string>;

export interface VendorIdp {
  vendor: Vendor;
  /** The issuer exactly as the vendor writes it. */
  issuer: string;
  caPem: string;
  clientId: string;
  clientSecret: string;
  /** Replaced by each test: the next ID token the token endpoint hands out. */
  mint: Mint;
  /** Signs claims (iss, aud, iat, exp and nonce filled in) with a key of this provider. */
  sign(
    key: ProviderKey | { alg: "HS256"; secret: Uint8Array },
    nonce: string,
    claims: JWTPayload,
  ): Promise<string>;
  stop(): void;
}

const TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad";

/** Discovery documents, trimmed to what matters but spelled as each vendor's docs show them. */
function discovery(vendor: Vendor, origin: string, algorithms?: string[]) {
  switch (vendor) {
    case "keycloak": {
      // https://www.keycloak.org/docs/latest/securing_apps/ — /realms/{realm}/protocol/openid-connect/*
      const issuer = `${origin}/realms/plant`;
      const oidc = `${issuer}/protocol/openid-connect`;
      return {
        issuer,
        authorization_endpoint: `${oidc}/auth`,
        token_endpoint: `${oidc}/token`,
        userinfo_endpoint: `${oidc}/userinfo`,
        end_session_endpoint: `${oidc}/logout`,
        jwks_uri: `${oidc}/certs`,
        grant_types_supported: ["authorization_code", "implicit", "refresh_token", "password"],
        response_types_supported: ["code", "none", "id_token", "token", "id_token token"],
        subject_types_supported: ["public", "pairwise"],
        id_token_signing_alg_values_supported: algorithms ?? [
          "ES384",
          "RS384",
          "HS256",
          "HS512",
          "ES256",
          "RS256",
          "HS384",
          "ES512",
          "PS256",
          "PS512",
          "RS512",
        ],
        token_endpoint_auth_methods_supported: [
          "private_key_jwt",
          "client_secret_basic",
          "client_secret_post",
          "tls_client_auth",
          "client_secret_jwt",
        ],
        code_challenge_methods_supported: ["plain", "S256"],
        authorization_response_iss_parameter_supported: true,
      };
    }
    case "entra": {
      // https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration
      const issuer = `${origin}/${TENANT}/v2.0`;
      return {
        token_endpoint: `${origin}/${TENANT}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: [
          "client_secret_post",
          "private_key_jwt",
          "client_secret_basic",
        ],
        jwks_uri: `${origin}/${TENANT}/discovery/v2.0/keys`,
        response_modes_supported: ["query", "fragment", "form_post"],
        subject_types_supported: ["pairwise"],
        id_token_signing_alg_values_supported: algorithms ?? ["RS256"],
        response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
        scopes_supported: ["openid", "profile", "email", "offline_access"],
        issuer,
        request_uri_parameter_supported: false,
        userinfo_endpoint: "https://graph.microsoft.com/oidc/userinfo",
        authorization_endpoint: `${origin}/${TENANT}/oauth2/v2.0/authorize`,
        end_session_endpoint: `${origin}/${TENANT}/oauth2/v2.0/logout`,
        claims_supported: ["sub", "iss", "aud", "exp", "iat", "nonce", "name", "oid", "tid"],
        tenant_region_scope: "EU",
        cloud_instance_name: "microsoftonline.com",
      };
    }
    case "auth0": {
      // https://{tenant}.auth0.com/.well-known/openid-configuration — the issuer ends with "/".
      return {
        issuer: `${origin}/`,
        authorization_endpoint: `${origin}/authorize`,
        token_endpoint: `${origin}/oauth/token`,
        userinfo_endpoint: `${origin}/userinfo`,
        jwks_uri: `${origin}/.well-known/jwks.json`,
        revocation_endpoint: `${origin}/oauth/revoke`,
        end_session_endpoint: `${origin}/oidc/logout`,
        scopes_supported: ["openid", "profile", "offline_access", "name", "email"],
        response_types_supported: ["code", "token", "id_token", "code token", "code id_token"],
        code_challenge_methods_supported: ["S256", "plain"],
        response_modes_supported: ["query", "fragment", "form_post"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: algorithms ?? ["HS256", "RS256", "PS256"],
        token_endpoint_auth_methods_supported: [
          "client_secret_basic",
          "client_secret_post",
          "private_key_jwt",
        ],
      };
    }
    case "authentik": {
      // https://docs.goauthentik.io/add-secure-apps/providers/oauth2/ — per-application issuer
      // /application/o/<slug>/ (with the slash), shared endpoints under /application/o/.
      const issuer = `${origin}/application/o/meetpoint/`;
      return {
        issuer,
        authorization_endpoint: `${origin}/application/o/authorize/`,
        token_endpoint: `${origin}/application/o/token/`,
        userinfo_endpoint: `${origin}/application/o/userinfo/`,
        end_session_endpoint: `${issuer}end-session/`,
        introspection_endpoint: `${origin}/application/o/introspect/`,
        revocation_endpoint: `${origin}/application/o/revoke/`,
        response_types_supported: ["code", "id_token", "id_token token", "code token"],
        response_modes_supported: ["query", "fragment", "form_post"],
        jwks_uri: `${issuer}jwks/`,
        grant_types_supported: ["authorization_code", "refresh_token", "implicit"],
        id_token_signing_alg_values_supported: algorithms ?? ["ES256"],
        subject_types_supported: ["public"],
        token_endpoint_auth_methods_supported: ["client_secret_post", "client_secret_basic"],
        acr_values_supported: ["goauthentik.io/providers/oauth2/default"],
        scopes_supported: ["openid", "email", "profile"],
        code_challenge_methods_supported: ["plain", "S256"],
      };
    }
  }
}

const now = () => Math.floor(Date.now() / 1000);

/** client_secret_basic (RFC 6749 §2.3.1): id and secret form-urlencoded, then Basic. */
function basicCredentials(request: Request, id: string, secret: string): boolean {
  const header = request.headers.get("authorization") ?? "";
  if (!header.startsWith("Basic ")) return false;
  const decode = (part: string) => decodeURIComponent(part.replaceAll("+", " "));
  const [user = "", password = ""] = atob(header.slice(6)).split(":");
  return decode(user) === id && decode(password) === secret;
}

/**
 * Starts a provider shaped like `vendor`'s, publishing `keys` in its JWKS (plus, for Keycloak, the
 * encryption key a realm also lists). `algorithms` replaces the vendor's usual list.
 */
export async function startVendorIdp(
  vendor: Vendor,
  keys: ProviderKey[],
  options: { algorithms?: string[] } = {},
): Promise<VendorIdp> {
  const tls = tlsCertificate("127.0.0.1");
  const clientId = `meetpoint-${vendor}`;
  const clientSecret = `secret-of-${vendor}-${crypto.randomUUID()}`;
  let pendingNonce = "";
  let metadata: ReturnType<typeof discovery> | null = null;
  const published = [...keys.map((k) => k.jwk)];
  if (vendor === "keycloak") {
    const enc = await generateKeyPair("RSA-OAEP", { extractable: true });
    published.push({
      ...(await exportJWK(enc.publicKey)),
      kid: "enc-1",
      use: "enc",
      alg: "RSA-OAEP",
    });
  }
  const idp: VendorIdp = {
    vendor,
    issuer: "",
    caPem: tls.cert,
    clientId,
    clientSecret,
    mint: async () => {
      throw new Error("no ID token prepared");
    },
    async sign(key, nonce, claims) {
      const payload = {
        iss: idp.issuer,
        aud: clientId,
        iat: now(),
        exp: now() + 300,
        nonce,
        ...claims,
      };
      if ("secret" in key)
        return new SignJWT(payload).setProtectedHeader({ alg: "HS256" }).sign(key.secret);
      return new SignJWT(payload)
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" })
        .sign(key.privateKey);
    },
    stop: () => server.stop(true),
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: tls.cert, key: tls.key },
    fetch: async (request) => {
      const url = new URL(request.url);
      const meta = metadata;
      if (!meta) return new Response("starting", { status: 503 });
      const path = (endpoint: unknown) => new URL(String(endpoint)).pathname;
      const wellKnown = `${new URL(meta.issuer).pathname.replace(/\/$/, "")}/.well-known/openid-configuration`;
      if (url.pathname === wellKnown) return Response.json(meta);
      if (url.pathname === path(meta.jwks_uri)) return Response.json({ keys: published });
      if (url.pathname === path(meta.authorization_endpoint)) {
        pendingNonce = url.searchParams.get("nonce") ?? "";
        const back = new URL(url.searchParams.get("redirect_uri") ?? "");
        back.searchParams.set("code", crypto.randomUUID());
        back.searchParams.set("state", url.searchParams.get("state") ?? "");
        if ("authorization_response_iss_parameter_supported" in meta)
          back.searchParams.set("iss", meta.issuer);
        return Response.redirect(back.href, 302);
      }
      if (url.pathname === path(meta.token_endpoint) && request.method === "POST") {
        if (!basicCredentials(request, clientId, clientSecret))
          return Response.json({ error: "invalid_client" }, { status: 401 });
        return Response.json({
          access_token: crypto.randomUUID(),
          token_type: "Bearer",
          expires_in: 300,
          id_token: await idp.mint(pendingNonce),
        });
      }
      return new Response("not found", { status: 404 });
    },
  });
  const origin = `https://127.0.0.1:${server.port}`;
  metadata = discovery(vendor, origin, options.algorithms);
  idp.issuer = metadata.issuer;
  return idp;
}
