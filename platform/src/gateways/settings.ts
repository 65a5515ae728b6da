// A gateway's signed settings: its maintenance SSH server (off by default, the keys platform admins
// authorized, whether the operator may add keys) and whether its operator UI also answers on the
// WAN side. Only platform admins change them, each change audited and signed as one
// "gateway-settings" envelope whose version only grows; the gateway gets it with every heartbeat.
import { type EnvelopeBody, parseSshPublicKey } from "@meetpoint/common";
import { and, eq } from "drizzle-orm";
import type { Context } from "../access/index.ts";
import { recordAudit } from "../audit/index.ts";
import { type Db, gatewaySettings, inTransaction, type StoredSshKey } from "../db/index.ts";
import { getGateway, requireConnectGateway } from "../masterdata/index.ts";
import type { Pki } from "../pki/index.ts";
import {
  type Clock,
  ConflictError,
  ForbiddenError,
  StaleFormError,
  TEXT_CONTROL,
  ValidationError,
} from "../shared/index.ts";

type Body = EnvelopeBody<"gateway-settings">;
export type UiReach = Body["operatorUi"]["reach"];

/** What the gateway page shows. `version` null: never set, the defaults apply. */
export interface GatewaySettingsView {
  sshEnabled: boolean;
  operatorKeys: boolean;
  uiReach: UiReach;
  keys: StoredSshKey[];
  version: number | null;
  updatedAt: Date | null;
  updatedBy: string | null;
}

/** One change a platform admin makes on the gateway page. */
export type GatewaySettingsChange =
  | {
      kind: "options";
      sshEnabled: boolean;
      operatorKeys: boolean;
      uiReach: UiReach;
      /**
       * When the settings the form showed were last changed (ISO time; "" for never): a save from
       * a form opened before another admin's change is refused (StaleFormError), never reverting it.
       */
      seen?: string;
    }
  | { kind: "add-key"; key: string; label: string }
  | { kind: "remove-key"; fingerprint: string };

export interface GatewaySettingsDeps {
  db: Db;
  clock: Clock;
  pki: Pick<Pki, "signEnvelope">;
}

/** Validity of a settings envelope: 30 days; re-signed at a heartbeat once less than 15 remain. */
const VALID_MS = 30 * 86_400_000;
const RESIGN_BEFORE_MS = 15 * 86_400_000;
/** Most platform-authorized keys per gateway (the envelope allows as many). */
export const MAX_PLATFORM_KEYS = 32;

const DEFAULTS: Omit<GatewaySettingsView, "version" | "updatedAt" | "updatedBy"> = {
  sshEnabled: false,
  operatorKeys: false,
  uiReach: "lan",
  keys: [],
};

type Row = typeof gatewaySettings.$inferSelect;

function view(row: Row | undefined): GatewaySettingsView {
  if (!row) return { ...DEFAULTS, version: null, updatedAt: null, updatedBy: null };
  return {
    sshEnabled: row.sshEnabled === "on",
    operatorKeys: row.operatorKeys === "allowed",
    uiReach: row.uiReach,
    keys: row.sshKeys,
    version: row.version,
    updatedAt: row.updatedAt,
    updatedBy: row.updatedBy,
  };
}

function body(gatewayId: string, settings: GatewaySettingsView): Body {
  return {
    gatewayId,
    ssh: {
      enabled: settings.sshEnabled,
      authorizedKeys: settings.keys.map(({ key, label }) => ({ key, label })),
      operatorKeys: settings.operatorKeys,
    },
    operatorUi: { reach: settings.uiReach },
  };
}

async function readRow(db: Db, gatewayId: string): Promise<Row | undefined> {
  const [row] = await db
    .select()
    .from(gatewaySettings)
    .where(eq(gatewaySettings.gatewayId, gatewayId));
  return row;
}

/** A gateway's settings as the caller may read them (404 for a gateway outside their scope). */
export async function readGatewaySettings(
  ctx: Context,
  gatewayId: string,
): Promise<GatewaySettingsView> {
  const gateway = await getGateway(ctx, gatewayId);
  return view(await readRow(ctx.db, gateway.id));
}

/** Whether the caller may change gateway settings: platform admins only. */
export function mayChangeGatewaySettings(ctx: Context): boolean {
  return ctx.caller.principal.grants.some((g) => g.role === "platform_admin");
}

/** The settings after `change`, or a ValidationError naming the form field at fault. */
function applyChange(
  current: GatewaySettingsView,
  change: GatewaySettingsChange,
  by: string,
  now: Date,
): { next: GatewaySettingsView; key: StoredSshKey | null } {
  if (change.kind === "options") {
    const { sshEnabled, operatorKeys, uiReach } = change;
    return { next: { ...current, sshEnabled, operatorKeys, uiReach }, key: null };
  }
  if (change.kind === "remove-key") {
    const key = current.keys.find((k) => k.fingerprint === change.fingerprint);
    if (!key) throw new ValidationError("fingerprint", "no such key on this gateway");
    return {
      next: { ...current, keys: current.keys.filter((k) => k !== key) },
      key,
    };
  }
  const parsed = parseSshPublicKey(change.key);
  if (!parsed.ok) throw new ValidationError("key", parsed.reason);
  const label = (change.label.trim() || parsed.key.comment).slice(0, 100);
  if (TEXT_CONTROL.test(label) || /[^\x20-\x7e]/.test(label))
    throw new ValidationError("label", "must be printable characters (ASCII) only");
  if (current.keys.some((k) => k.fingerprint === parsed.key.fingerprint))
    throw new ConflictError(`This key (${parsed.key.fingerprint}) is already authorized.`, "key");
  if (current.keys.length >= MAX_PLATFORM_KEYS)
    throw new ValidationError("key", `at most ${MAX_PLATFORM_KEYS} keys per gateway`);
  const key: StoredSshKey = {
    key: parsed.key.line,
    label,
    fingerprint: parsed.key.fingerprint,
    addedBy: by,
    addedAt: now.toISOString(),
  };
  return { next: { ...current, keys: [...current.keys, key] }, key };
}

/** Signs `settings` for `gatewayId` with the next envelope version. */
async function sign(deps: GatewaySettingsDeps, gatewayId: string, settings: GatewaySettingsView) {
  const now = deps.clock.now();
  const expiresAt = new Date(now.getTime() + VALID_MS);
  const { token, version } = await deps.pki.signEnvelope({
    kind: "gateway-settings",
    audience: gatewayId,
    issuedAt: now,
    expiresAt,
    body: body(gatewayId, settings),
  });
  return { token, version, expiresAt };
}

type Signed = Awaited<ReturnType<typeof sign>>;

/**
 * Stores `settings` with their envelope, if the stored row is still `expected` (its version, null:
 * none). False when someone else changed them meanwhile: the caller reads again, signs again and
 * retries, so versions in the database only grow whatever the order in which two were signed.
 * (Signing happens before the transaction: it draws its version from the database itself.)
 */
async function store(
  tx: Db,
  gatewayId: string,
  settings: GatewaySettingsView,
  signed: Signed,
  expected: number | null,
  by: string,
  now: Date,
): Promise<boolean> {
  const values = {
    sshEnabled: settings.sshEnabled ? ("on" as const) : ("off" as const),
    operatorKeys: settings.operatorKeys ? ("allowed" as const) : ("refused" as const),
    uiReach: settings.uiReach,
    sshKeys: settings.keys,
    envelope: signed.token,
    version: signed.version,
    expiresAt: signed.expiresAt,
    updatedAt: now,
    updatedBy: by,
  };
  const written =
    expected === null
      ? await tx
          .insert(gatewaySettings)
          .values({ gatewayId, ...values })
          .onConflictDoNothing()
          .returning({ version: gatewaySettings.version })
      : await tx
          .update(gatewaySettings)
          .set(values)
          .where(
            and(eq(gatewaySettings.gatewayId, gatewayId), eq(gatewaySettings.version, expected)),
          )
          .returning({ version: gatewaySettings.version });
  return written.length === 1;
}

/**
 * A platform admin changes a gateway's settings: checked, signed with a new version, stored and
 * audited in one transaction. Errors: ForbiddenError (not a platform admin), NotFoundError (no
 * such gateway), ValidationError naming the field (a key that is not an accepted public key, an
 * RSA key under 3072 bits, a bad label), ConflictError (the key is there already), StaleFormError
 * (the options form was opened before another change), StateError (a workstation).
 */
export async function changeGatewaySettings(
  deps: GatewaySettingsDeps,
  ctx: Context,
  gatewayId: string,
  change: GatewaySettingsChange,
): Promise<GatewaySettingsView> {
  if (!mayChangeGatewaySettings(ctx))
    throw new ForbiddenError("Only platform admins change a gateway's SSH and UI settings.");
  const gateway = await getGateway(ctx, gatewayId);
  requireConnectGateway(gateway);
  const by = ctx.caller.actor.name;
  for (let attempt = 0; attempt < 5; attempt++) {
    const row = await readRow(deps.db, gateway.id);
    const current = view(row);
    if (
      change.kind === "options" &&
      change.seen !== undefined &&
      change.seen !== (current.updatedAt?.toISOString() ?? "")
    )
      throw new StaleFormError(current.updatedBy, current.updatedAt);
    const { next, key } = applyChange(current, change, by, deps.clock.now());
    const signed = await sign(deps, gateway.id, next);
    const version = signed.version;
    const done = await inTransaction(deps.db, async (tx) => {
      const expected = row?.version ?? null;
      if (!(await store(tx, gateway.id, next, signed, expected, by, deps.clock.now())))
        return false;
      await recordAudit(tx, deps.clock, {
        actor: ctx.caller.actor,
        action:
          change.kind === "add-key"
            ? "gateway.ssh_key_add"
            : change.kind === "remove-key"
              ? "gateway.ssh_key_remove"
              : "gateway.settings",
        target: { type: "gateway", id: gateway.id },
        customerId: gateway.customerId,
        detail: {
          version,
          ...(key
            ? { fingerprint: key.fingerprint, label: key.label }
            : {
                sshEnabled: next.sshEnabled,
                operatorKeys: next.operatorKeys,
                uiReach: next.uiReach,
                previous: {
                  sshEnabled: current.sshEnabled,
                  operatorKeys: current.operatorKeys,
                  uiReach: current.uiReach,
                },
              }),
        },
      });
      return true;
    });
    if (done) return view(await readRow(deps.db, gateway.id));
  }
  throw new ConflictError("The settings changed meanwhile: reload the page and try again.");
}

/**
 * The gateway's current signed settings for its heartbeat answer; null while none were ever set.
 * An envelope with less than half of its validity left is signed anew (same settings, new
 * version), so a gateway that was offline for weeks still gets one it accepts.
 */
export async function settingsEnvelopeFor(
  deps: GatewaySettingsDeps,
  gatewayId: string,
  known?: Row | null,
): Promise<string | null> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const row =
      attempt === 0 && known !== undefined
        ? (known ?? undefined)
        : await readRow(deps.db, gatewayId);
    if (!row) return null;
    if (row.expiresAt.getTime() - deps.clock.now().getTime() > RESIGN_BEFORE_MS)
      return row.envelope;
    const signed = await sign(deps, gatewayId, view(row));
    const stored = await inTransaction(deps.db, (tx) =>
      store(tx, gatewayId, view(row), signed, row.version, row.updatedBy, row.updatedAt),
    );
    if (stored) return (await readRow(deps.db, gatewayId))?.envelope ?? null;
  }
  return (await readRow(deps.db, gatewayId))?.envelope ?? null;
}
