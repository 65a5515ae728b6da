// A workspace's remote-access profile: storing it (OpenVPN or IPsec, its secrets sealed with the
// KEK, audited with which secrets changed, never a hash of them) and the endpoints it names.
import { eq } from "drizzle-orm";
import { type Context, ensureUnchanged, found } from "../access/index.ts";
import { recordAudit } from "../audit/index.ts";
import { inTransaction, workspaces } from "../db/index.ts";
import { ValidationError } from "../shared/index.ts";
import { type IpsecSettings, ipsecEndpoints, parseIpsecProfile } from "./ipsec-profile.ts";
import { parseOpenVpnProfile, type VpnEndpoint } from "./openvpn-profile.ts";
import { managedWorkspace, versioned, type Workspace } from "./workspaces.ts";

/** Seals and unseals a secret with the KEK under a label (the platform's Pki does). */
export interface Sealer {
  sealSecret(label: string, text: string): Promise<string>;
  unsealSecret(label: string, sealed: string): Promise<string>;
}

/** The label a workspace's profile secrets are sealed under: binds them to that workspace. */
export const profileSecretsLabel = (workspaceId: string) => `workspace-profile:${workspaceId}`;

/**
 * The sealed secrets of a stored profile: by name (OpenVPN block name, "psk", "privateKey") the
 * ISO time its value last changed. No hash of a secret is kept or shown (a hash of a password or
 * PSK can be guessed offline). Profiles stored before this had `fingerprints` (unsalted SHA-256):
 * pages read only their names.
 */
export type SealedSecrets = Record<string, string>;

/** The stored (secret-free) OpenVPN profile. */
export interface StoredOpenVpn {
  config: string;
  remotes: VpnEndpoint[];
  sealed?: SealedSecrets;
  /** Only in profiles stored before `sealed`: never shown. */
  fingerprints?: Record<string, string>;
}
/** The stored (secret-free) IPsec profile. */
export interface StoredIpsec {
  settings: IpsecSettings;
  sealed?: SealedSecrets;
  /** SHA-256 (hex) of the workspace certificate's DER (certificate auth): public. */
  certificateFingerprint?: string | null;
  /** Only in profiles stored before `sealed`: never shown. */
  fingerprints?: Record<string, string>;
}

/** How each secret of a new profile compares with the stored one. */
type SecretChange = "added" | "replaced" | "unchanged" | "removed";

/**
 * The stored profile's secrets by name, unsealed; empty when none are stored. A sealed value that
 * no longer opens (altered, other KEK) counts as empty: every new secret then counts as replaced.
 */
async function storedSecrets(
  sealer: Sealer,
  workspace: Workspace,
): Promise<Record<string, string>> {
  if (!workspace.profileSecretsSealed) return {};
  try {
    const value = JSON.parse(
      await sealer.unsealSecret(profileSecretsLabel(workspace.id), workspace.profileSecretsSealed),
    );
    return value && typeof value === "object" ? (value as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/**
 * Compares the new secrets with the stored ones: per name added/replaced/unchanged/removed, and
 * the `sealed` record to store (an unchanged secret keeps its change time, others get `now`).
 */
function compareSecrets(
  before: Record<string, string>,
  beforeSealed: SealedSecrets,
  after: Record<string, string>,
  now: Date,
): { changes: Record<string, SecretChange>; sealed: SealedSecrets } {
  const changes: Record<string, SecretChange> = {};
  const sealed: SealedSecrets = {};
  for (const [name, value] of Object.entries(after)) {
    const old = before[name];
    changes[name] = old === undefined ? "added" : old === value ? "unchanged" : "replaced";
    sealed[name] =
      changes[name] === "unchanged" && beforeSealed[name] ? beforeSealed[name] : now.toISOString();
  }
  for (const name of Object.keys(before)) if (!(name in after)) changes[name] = "removed";
  return { changes, sealed };
}

/**
 * Stores the workspace's remote-access profile. Field kind = openvpn (field profile: the client
 * config text) or ipsec (fields of parseIpsecProfile). The secrets are sealed with the KEK under
 * profileSecretsLabel(id) and never returned, nor any hash of them; the audit entry holds the
 * endpoints, whether the credentials were replaced ("yes"/"no") and per secret name whether it
 * was added, replaced, left unchanged or removed (compared with the stored secrets, unsealed). 400 naming the field (and for OpenVPN the line and directive); nothing is stored.
 */
export async function setWorkspaceProfile(
  ctx: Context,
  sealer: Sealer,
  id: string,
  input: Record<string, unknown>,
): Promise<Workspace> {
  const { workspace, customerName } = await managedWorkspace(ctx, id);
  const kind = input.kind;
  let stored: StoredOpenVpn | StoredIpsec;
  let secrets: Record<string, string>;
  let summary: Record<string, unknown>;
  if (kind === "openvpn") {
    const text = typeof input.profile === "string" ? input.profile : "";
    if (!text.trim())
      throw new ValidationError("profile", "paste the customer's OpenVPN client config");
    const parsed = parseOpenVpnProfile(text);
    stored = { config: parsed.config, remotes: parsed.remotes };
    secrets = parsed.secrets;
    summary = { remotes: parsed.remotes };
  } else if (kind === "ipsec") {
    const parsed = parseIpsecProfile(input);
    stored = { settings: parsed.settings, certificateFingerprint: parsed.certificateFingerprint };
    secrets = parsed.secrets as Record<string, string>;
    summary = {
      remoteAddress: parsed.settings.remoteAddress,
      auth: parsed.settings.auth,
      remoteSubnets: parsed.settings.remoteSubnets,
      ...(parsed.certificateFingerprint
        ? { certificateFingerprint: parsed.certificateFingerprint }
        : {}),
    };
  } else throw new ValidationError("kind", "must be openvpn or ipsec");
  await ensureUnchanged(ctx, input, versioned(workspace), { type: "workspace", id: workspace.id });
  const before = await storedSecrets(sealer, workspace);
  const beforeSealed = ((workspace.profile as { sealed?: SealedSecrets } | null)?.sealed ??
    {}) as SealedSecrets;
  const { changes, sealed: sealedAt } = compareSecrets(
    before,
    beforeSealed,
    secrets,
    ctx.clock.now(),
  );
  stored.sealed = sealedAt;
  const sealed = Object.keys(secrets).length
    ? await sealer.sealSecret(profileSecretsLabel(workspace.id), JSON.stringify(secrets))
    : null;
  return inTransaction(ctx.db, async (tx) => {
    const [row] = await tx
      .update(workspaces)
      .set({ profileKind: kind, profile: { ...stored }, profileSecretsSealed: sealed })
      .where(eq(workspaces.id, workspace.id))
      .returning();
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "workspace.profile",
      target: { type: "workspace", id: workspace.id },
      customerId: workspace.customerId,
      detail: {
        name: customerName,
        kind,
        replaced: workspace.profileKind,
        ...summary,
        credentialsReplaced: Object.values(changes).some((c) => c !== "unchanged") ? "yes" : "no",
        secrets: changes,
      },
    });
    return found(row, "Workspace");
  });
}

/** The VPN endpoints of a stored profile (hosts may be DNS names, resolved at start). */
export function profileEndpoints(
  workspace: Pick<Workspace, "profileKind" | "profile">,
): { host: string; protocol: "tcp" | "udp" | "esp"; port: number | null }[] {
  if (workspace.profileKind === "openvpn")
    return ((workspace.profile as unknown as StoredOpenVpn).remotes ?? []).map((r) => ({ ...r }));
  if (workspace.profileKind === "ipsec")
    return ipsecEndpoints((workspace.profile as unknown as StoredIpsec).settings);
  return [];
}
