// Identity providers as platform admins configure them: issuer, client, trust, groups claim, MFA
// values, the group → role mappings and the MFA policy per role. Every change is audited;
// client secrets and keys are stored only sealed with the KEK.
import { asc, eq } from "drizzle-orm";
import { exportJWK, generateKeyPair } from "jose";
import { z } from "zod";
import type { Context } from "../../access/index.ts";
import {
  checkId,
  conflictOnDuplicate,
  ensureUnchanged,
  found,
  grantProblem,
  requirePermission,
} from "../../access/index.ts";
import { recordAudit } from "../../audit/index.ts";
import {
  CLIENT_AUTH_METHODS,
  customers,
  ID_TOKEN_ALGORITHMS,
  identityProviderMappings,
  identityProviders,
  inTransaction,
  MFA_POLICIES,
  type MfaPolicy,
  mfaPolicies,
  ROLES,
  type Role,
} from "../../db/index.ts";
import type { Pki } from "../../pki/index.ts";
import {
  FORMAT_CHARACTER,
  FORMAT_MESSAGE,
  nameSchema,
  parseInput,
  ValidationError,
  versionOf,
} from "../../shared/index.ts";
import { DEFAULT_MFA_AMR, DEFAULT_MFA_POLICY } from "./policy.ts";

export type IdentityProvider = typeof identityProviders.$inferSelect;
export type ProviderMapping = typeof identityProviderMappings.$inferSelect;

/** The label the client credential is sealed under (binds it to its purpose). */
export const CREDENTIAL_LABEL = "oidc-client-credential";

const PEM = /^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*$/;

const providerInput = z.object({
  slug: z
    .string()
    .trim()
    .regex(/^[a-z0-9][a-z0-9-]{0,30}$/, "use 1-31 lowercase letters, digits and dashes"),
  displayName: nameSchema,
  // Kept exactly as entered: the provider's metadata and every ID token must carry this very
  // string (authentik and Auth0 end theirs with a slash, Keycloak and Entra ID do not).
  issuer: z
    .string()
    .trim()
    .pipe(z.url({ protocol: /^https$/, error: "must be an https URL" }))
    .refine((v) => !/[?#]/.test(v), "must not have a query or fragment"),
  clientId: z
    .string()
    .refine((v) => !FORMAT_CHARACTER.test(v), FORMAT_MESSAGE)
    .trim()
    .min(1, "is required")
    .max(200),
  clientAuth: z.enum(CLIENT_AUTH_METHODS, { error: "is not a supported method" }),
  clientSecret: z.string().max(500).optional().default(""),
  caPem: z
    .string()
    .trim()
    .optional()
    .transform((v) => v || null)
    .refine((v) => v === null || PEM.test(v), "must be one PEM certificate"),
  scopes: z
    .string()
    .trim()
    .regex(
      /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/,
      "must be scope names separated by spaces",
    )
    .refine((v) => v.split(" ").includes("openid"), "must include openid")
    .default("openid profile"),
  groupsClaim: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_:./-]{1,100}$/, "must be a claim name")
    .default("groups"),
  companyClaim: z
    .string()
    .trim()
    .optional()
    .transform((v) => v || null)
    .refine((v) => v === null || /^[A-Za-z0-9_:./-]{1,100}$/.test(v), "must be a claim name"),
  mfaAmr: z
    .string()
    .optional()
    .transform((v) =>
      (v?.trim() || DEFAULT_MFA_AMR.join(" "))
        .split(/[\s,]+/)
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  mfaAcr: z
    .string()
    .trim()
    .max(200)
    .optional()
    .transform((v) => v || null),
  idTokenAlg: z
    .enum(["", ...ID_TOKEN_ALGORITHMS], { error: "is not an asymmetric signing algorithm" })
    .optional()
    .transform((v) => v || null),
});

const mappingInput = z.object({
  group: z.string().trim().min(1, "is required").max(200),
  role: z.enum(ROLES, { error: "choose a role" }),
  customerId: z
    .string()
    .optional()
    .transform((v) => v || null),
});

function admin(ctx: Context): void {
  requirePermission(ctx.caller, "users.manage", null);
}

export async function listProviders(ctx: Context): Promise<IdentityProvider[]> {
  admin(ctx);
  return ctx.db.select().from(identityProviders).orderBy(asc(identityProviders.displayName));
}

/** Providers shown on the sign-in page (no permission needed: it is before sign-in). */
export function enabledProviders(db: Context["db"]) {
  return db
    .select({ slug: identityProviders.slug, displayName: identityProviders.displayName })
    .from(identityProviders)
    .where(eq(identityProviders.enabled, true))
    .orderBy(asc(identityProviders.displayName));
}

export async function getProvider(ctx: Context, id: string): Promise<IdentityProvider> {
  admin(ctx);
  const [row] = await ctx.db
    .select()
    .from(identityProviders)
    .where(eq(identityProviders.id, checkId(id, "Identity provider")));
  return found(row, "Identity provider");
}

/** The credential to seal, and the public key to show, for the chosen client authentication. */
async function credentialFor(
  pki: Pki,
  input: { clientAuth: (typeof CLIENT_AUTH_METHODS)[number]; clientSecret: string },
) {
  if (input.clientAuth === "client_secret_basic") {
    if (!input.clientSecret)
      throw new ValidationError("clientSecret", "is required for a client secret");
    return { sealed: await pki.sealSecret(CREDENTIAL_LABEL, input.clientSecret), publicJwk: null };
  }
  const pair = await generateKeyPair("ES256", { extractable: true });
  const kid = crypto.randomUUID();
  const privateJwk = { ...(await exportJWK(pair.privateKey)), kid, alg: "ES256" };
  const publicJwk = { ...(await exportJWK(pair.publicKey)), kid, alg: "ES256", use: "sig" };
  return {
    sealed: await pki.sealSecret(CREDENTIAL_LABEL, JSON.stringify(privateJwk)),
    publicJwk: publicJwk as unknown as Record<string, string>,
  };
}

/** The stored columns of a provider from the admin's input and its sealed credential. */
function columnsOf(
  data: z.infer<typeof providerInput>,
  credential: { sealed: string; publicJwk: Record<string, string> | null },
) {
  const { clientSecret: _secret, ...columns } = data;
  return { ...columns, clientCredentialSealed: credential.sealed, publicJwk: credential.publicJwk };
}

export async function createProvider(
  ctx: Context,
  pki: Pki,
  input: unknown,
): Promise<IdentityProvider> {
  admin(ctx);
  const data = parseInput(providerInput, input);
  const credential = await credentialFor(pki, data);
  return conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      const [row] = await tx
        .insert(identityProviders)
        .values(columnsOf(data, credential))
        .returning();
      if (!row) throw new Error("identity provider not stored");
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "identity_provider.create",
        target: { type: "identity_provider", id: row.id },
        detail: {
          slug: row.slug,
          issuer: row.issuer,
          clientId: row.clientId,
          clientAuth: row.clientAuth,
          idTokenAlg: row.idTokenAlg,
          companyClaim: row.companyClaim,
        },
      });
      return row;
    }),
  );
}

/** The settings a provider's form edits, as they are now: its version is checked on save. */
function editedSettings(p: IdentityProvider): Record<string, unknown> {
  return {
    slug: p.slug,
    displayName: p.displayName,
    issuer: p.issuer,
    clientId: p.clientId,
    clientAuth: p.clientAuth,
    credential: p.clientCredentialSealed,
    caPem: p.caPem,
    scopes: p.scopes,
    groupsClaim: p.groupsClaim,
    companyClaim: p.companyClaim,
    mfaAmr: p.mfaAmr,
    mfaAcr: p.mfaAcr,
    idTokenAlg: p.idTokenAlg,
  };
}

/** The version of a provider's settings as its form shows them. */
export const providerVersion = (provider: IdentityProvider) => versionOf(editedSettings(provider));

/** Changes a provider; an empty client secret keeps the current one. */
export async function updateProvider(
  ctx: Context,
  pki: Pki,
  id: string,
  input: unknown,
): Promise<IdentityProvider> {
  const before = await getProvider(ctx, id);
  const data = parseInput(providerInput, input);
  await ensureUnchanged(ctx, input, editedSettings(before), {
    type: "identity_provider",
    id: before.id,
  });
  const keep =
    data.clientAuth === before.clientAuth &&
    (data.clientAuth === "private_key_jwt" || !data.clientSecret);
  const credential = keep
    ? { sealed: before.clientCredentialSealed, publicJwk: before.publicJwk }
    : await credentialFor(pki, data);
  return inTransaction(ctx.db, async (tx) => {
    const [row] = await tx
      .update(identityProviders)
      .set(columnsOf(data, credential))
      .where(eq(identityProviders.id, before.id))
      .returning();
    if (!row) throw new Error("identity provider vanished");
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "identity_provider.update",
      target: { type: "identity_provider", id: row.id },
      detail: {
        slug: row.slug,
        issuer: row.issuer,
        idTokenAlg: row.idTokenAlg,
        companyClaim: row.companyClaim,
        credentialReplaced: !keep,
      },
    });
    return row;
  });
}

export async function setProviderEnabled(
  ctx: Context,
  id: string,
  enabled: boolean,
): Promise<void> {
  const provider = await getProvider(ctx, id);
  await inTransaction(ctx.db, async (tx) => {
    await tx
      .update(identityProviders)
      .set({ enabled })
      .where(eq(identityProviders.id, provider.id));
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: enabled ? "identity_provider.enable" : "identity_provider.disable",
      target: { type: "identity_provider", id: provider.id },
      detail: { slug: provider.slug },
    });
  });
}

export async function listMappings(ctx: Context, providerId: string) {
  const provider = await getProvider(ctx, providerId);
  return ctx.db
    .select({ mapping: identityProviderMappings, customerName: customers.name })
    .from(identityProviderMappings)
    .leftJoin(customers, eq(customers.id, identityProviderMappings.customerId))
    .where(eq(identityProviderMappings.providerId, provider.id))
    .orderBy(asc(identityProviderMappings.group), asc(identityProviderMappings.role));
}

/** Maps a group to a role (for technicians and customer admins: at one customer). */
export async function addMapping(ctx: Context, providerId: string, input: unknown): Promise<void> {
  const provider = await getProvider(ctx, providerId);
  const data = parseInput(mappingInput, input);
  const problem = grantProblem(data);
  if (problem) throw new ValidationError(problem.field, problem.reason);
  if (data.customerId) {
    const [customer] = await ctx.db
      .select({ id: customers.id })
      .from(customers)
      .where(eq(customers.id, checkId(data.customerId, "Customer")));
    found(customer, "Customer");
  }
  await conflictOnDuplicate(() =>
    inTransaction(ctx.db, async (tx) => {
      await tx.insert(identityProviderMappings).values({ providerId: provider.id, ...data });
      await recordAudit(tx, ctx.clock, {
        actor: ctx.caller.actor,
        action: "identity_provider.map",
        target: { type: "identity_provider", id: provider.id },
        customerId: data.customerId,
        detail: { group: data.group, role: data.role },
      });
    }),
  );
}

/** Removes a mapping; users lose the role at their next sign-in. */
export async function removeMapping(
  ctx: Context,
  providerId: string,
  mappingId: string,
): Promise<void> {
  const provider = await getProvider(ctx, providerId);
  const [mapping] = await ctx.db
    .select()
    .from(identityProviderMappings)
    .where(eq(identityProviderMappings.id, checkId(mappingId, "Mapping")));
  if (!mapping || mapping.providerId !== provider.id) found(undefined, "Mapping");
  await inTransaction(ctx.db, async (tx) => {
    await tx.delete(identityProviderMappings).where(eq(identityProviderMappings.id, mappingId));
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "identity_provider.unmap",
      target: { type: "identity_provider", id: provider.id },
      customerId: mapping?.customerId ?? null,
      detail: { group: mapping?.group, role: mapping?.role },
    });
  });
}

/** The MFA policy of every role (defaults filled in). */
export async function mfaPolicyTable(db: Context["db"]): Promise<Record<Role, MfaPolicy>> {
  const rows = await db.select().from(mfaPolicies);
  return Object.fromEntries(
    ROLES.map((role) => [role, rows.find((r) => r.role === role)?.policy ?? DEFAULT_MFA_POLICY]),
  ) as Record<Role, MfaPolicy>;
}

export async function setMfaPolicy(ctx: Context, input: unknown): Promise<void> {
  admin(ctx);
  const data = parseInput(
    z.object({
      role: z.enum(ROLES, { error: "choose a role" }),
      policy: z.enum(MFA_POLICIES, { error: "is not a known policy" }),
    }),
    input,
  );
  await inTransaction(ctx.db, async (tx) => {
    await tx
      .insert(mfaPolicies)
      .values(data)
      .onConflictDoUpdate({ target: mfaPolicies.role, set: { policy: data.policy } });
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "mfa_policy.set",
      detail: data,
    });
  });
}
