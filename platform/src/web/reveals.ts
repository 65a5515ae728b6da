// Secrets shown once: a POST that makes one stores it here (sealed with the KEK, bound to the
// session) and redirects to /once/<id>; the GET there takes it — deleting it in the same statement
// — and shows it. A reload, Back, or another browser finds nothing and is told so. The page is
// never stored: no-store, and no htmx history snapshot (hx-history="false").
import { and, eq, gt, lt } from "drizzle-orm";
import type { Db, RevealKind } from "../db/index.ts";
import { oneTimeReveals } from "../db/index.ts";
import type { Pki } from "../pki/index.ts";
import type { Clock } from "../shared/index.ts";

const LABEL = "one-time-reveal";
/** How long a secret waits for the page that shows it, in milliseconds. */
export const REVEAL_TTL_MS = 5 * 60_000;

export interface RevealDeps {
  db: Db;
  clock: Clock;
  pki: Pick<Pki, "sealSecret" | "unsealSecret">;
}

/** Stores `payload` for one showing to `webSessionId`; returns the address that shows it. */
export async function keepForOneShowing(
  deps: RevealDeps,
  webSessionId: string,
  kind: RevealKind,
  payload: Record<string, unknown>,
): Promise<string> {
  const now = deps.clock.now();
  await deps.db.delete(oneTimeReveals).where(lt(oneTimeReveals.expiresAt, now));
  const [row] = await deps.db
    .insert(oneTimeReveals)
    .values({
      webSessionId,
      kind,
      payloadSealed: await deps.pki.sealSecret(LABEL, JSON.stringify(payload)),
      createdAt: now,
      expiresAt: new Date(now.getTime() + REVEAL_TTL_MS),
    })
    .returning({ id: oneTimeReveals.id });
  if (!row) throw new Error("one-time reveal not stored");
  return `/once/${row.id}`;
}

/**
 * Takes the secret at `id` for `webSessionId`: returned once, deleted by the same statement (two
 * parallel requests cannot both have it). Null when it was shown already, has expired, belongs
 * to another session, or never existed.
 */
export async function takeForShowing(
  deps: RevealDeps,
  webSessionId: string,
  id: string,
): Promise<{ kind: RevealKind; payload: Record<string, unknown> } | null> {
  const [row] = await deps.db
    .delete(oneTimeReveals)
    .where(
      and(
        eq(oneTimeReveals.id, id),
        eq(oneTimeReveals.webSessionId, webSessionId),
        gt(oneTimeReveals.expiresAt, deps.clock.now()),
      ),
    )
    .returning();
  if (!row) return null;
  const payload = JSON.parse(await deps.pki.unsealSecret(LABEL, row.payloadSealed));
  return { kind: row.kind, payload };
}
