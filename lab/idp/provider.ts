// The lab's OpenID Provider: a real one (oidc-provider), with test users, their groups and the
// authentication methods (amr) they "used". A test component, never part of the platform: it
// stands in for the company ID service, Keycloak or Entra ID of a technician's employer.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair } from "jose";
import Provider, { type Configuration } from "oidc-provider";

export interface LabUser {
  username: string;
  password: string;
  name: string;
  groups: string[];
  /** What the provider asserts about the sign-in, e.g. ["pwd"] or ["pwd", "otp", "mfa"]. */
  amr: string[];
  acr?: string;
}

export interface LabClient {
  clientId: string;
  /** For client_secret_basic; omit for private_key_jwt with `jwks`. */
  clientSecret?: string;
  jwks?: { keys: Record<string, unknown>[] };
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
}

export interface LabIdp {
  issuer: string;
  /** The provider's TLS certificate (self-signed): what the platform must trust for it. */
  caPem: string;
  users: Map<string, LabUser & { disabled?: boolean }>;
  /** Like disabling the account in the directory: refreshes and new sign-ins fail. */
  disable(username: string): void;
  stop(): Promise<void>;
}

const html = (title: string, body: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A self-signed certificate for the provider's HTTPS (openssl, as on any Debian host). */
export function tlsCertificate(hostname: string) {
  const dir = mkdtempSync(join(tmpdir(), "meetpoint-idp-"));
  try {
    const result = spawnSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=lab-idp",
      "-addext",
      `subjectAltName=${/^\d+\.\d+\.\d+\.\d+$/.test(hostname) ? "IP" : "DNS"}:${hostname}`,
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ]);
    if (result.status !== 0) throw new Error(`openssl: ${result.stderr}`);
    return {
      key: readFileSync(join(dir, "key.pem"), "utf8"),
      cert: readFileSync(join(dir, "cert.pem"), "utf8"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return new URLSearchParams(text);
}

/** Starts the provider on https://<hostname>:<port> (port 0 picks a free one). */
export async function startLabIdp(options: {
  hostname?: string;
  port?: number;
  /** Address to listen on when it is not the hostname's (a container: 0.0.0.0). */
  listen?: string;
  users: LabUser[];
  clients: LabClient[];
}): Promise<LabIdp> {
  const hostname = options.hostname ?? "127.0.0.1";
  const tls = tlsCertificate(hostname);
  const users = new Map<string, LabUser & { disabled?: boolean }>(
    options.users.map((u) => [u.username, { ...u }]),
  );
  const server: Server = createServer({ key: tls.key, cert: tls.cert });
  // "localhost" (another site than 127.0.0.1 for a browser) still listens on IPv4 loopback.
  const listenOn = options.listen ?? (hostname === "localhost" ? "127.0.0.1" : hostname);
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, listenOn, resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const issuer = `https://${hostname}:${port}`;

  const signing = await generateKeyPair("RS256", { extractable: true });
  const jwk = {
    ...(await exportJWK(signing.privateKey)),
    kid: "lab-rs256",
    alg: "RS256",
    use: "sig",
  };

  const configuration: Configuration = {
    clients: options.clients.map((c) => ({
      client_id: c.clientId,
      ...(c.clientSecret
        ? { client_secret: c.clientSecret, token_endpoint_auth_method: "client_secret_basic" }
        : { jwks: c.jwks, token_endpoint_auth_method: "private_key_jwt" }),
      redirect_uris: c.redirectUris,
      post_logout_redirect_uris: c.postLogoutRedirectUris ?? [],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
    })) as Configuration["clients"],
    jwks: { keys: [jwk as never] },
    cookies: { keys: [crypto.randomUUID()] },
    pkce: { required: () => true },
    scopes: ["openid", "profile", "groups", "offline_access"],
    // amr and acr with every ID token: the platform's MFA policy reads them.
    claims: {
      openid: ["sub", "acr", "amr", "auth_time"],
      profile: ["name", "preferred_username"],
      groups: ["groups"],
    },
    // The groups claim goes into the ID token, as Keycloak and Entra ID can be set up to do.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
    // Short-lived access tokens (five minutes, the common default); refresh tokens for an hour.
    ttl: {
      AccessToken: 300,
      IdToken: 300,
      AuthorizationCode: 60,
      RefreshToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    findAccount: async (_ctx, sub) => {
      const user = users.get(sub);
      if (!user || user.disabled) return undefined;
      return {
        accountId: sub,
        claims: async () => ({
          sub,
          name: user.name,
          preferred_username: user.username,
          groups: user.groups,
        }),
      };
    },
    // Every lab client is first-party: no consent screen.
    loadExistingGrant: async (ctx) => {
      const session = ctx.oidc.session;
      const client = ctx.oidc.client;
      if (!session?.accountId || !client) return undefined;
      const grant = new ctx.oidc.provider.Grant({
        clientId: client.clientId,
        accountId: session.accountId,
      });
      grant.addOIDCScope("openid profile groups offline_access");
      grant.addOIDCClaims(["name", "preferred_username", "groups"]);
      await grant.save();
      return grant;
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  };
  const provider = new Provider(issuer, configuration);
  const callback = provider.callback();

  server.on("request", async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", issuer);
    const match = url.pathname.match(/^\/interaction\/([\w-]+)(\/login)?$/);
    if (!match) return callback(req, res);
    try {
      const details = await provider.interactionDetails(req, res);
      if (req.method === "POST" && match[2]) {
        const form = await formBody(req);
        const user = users.get(form.get("username") ?? "");
        if (!user || user.disabled || user.password !== form.get("password")) {
          res.writeHead(401, { "content-type": "text/html" });
          res.end(html("Sign in", `<p>Wrong username or password.</p>${loginForm(details.uid)}`));
          return;
        }
        await provider.interactionFinished(
          req,
          res,
          { login: { accountId: user.username, amr: user.amr, acr: user.acr } },
          { mergeWithLastSubmission: false },
        );
        return;
      }
      res.writeHead(200, { "content-type": "text/html" });
      res.end(html("Sign in", loginForm(details.uid)));
    } catch (error) {
      res.writeHead(400, { "content-type": "text/html" });
      res.end(html("Error", `<p>${escapeHtml(String(error))}</p>`));
    }
  });

  return {
    issuer,
    caPem: tls.cert,
    users,
    disable: (username) => {
      const user = users.get(username);
      if (user) user.disabled = true;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function loginForm(uid: string): string {
  return `<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label>Username <input name="username"></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Sign in</button></form>`;
}
