// Recordings of browser connections to workspaces: who may watch which (audit readers within their
// scope: auditors and platform admins all, customer admins their customers'), and the retention
// job that deletes recordings past the retention period, audited.
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { and, desc, eq, inArray, lt } from "drizzle-orm";
import { type Context, checkId, scopeOf } from "../access/index.ts";
import { recordAuditAlone, SYSTEM_ACTOR } from "../audit/index.ts";
import { type Db, workspaceRecordings } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import { NotFoundError } from "../shared/index.ts";

export type Recording = typeof workspaceRecordings.$inferSelect;

function readable(ctx: Context) {
  const scope = scopeOf(ctx.caller.principal, "audit.read");
  if (scope.all) return undefined;
  return inArray(
    workspaceRecordings.customerId,
    scope.customerIds.length ? scope.customerIds : ["00000000-0000-0000-0000-000000000000"],
  );
}

/** The recordings the caller may watch, newest first (at most `limit`, default 200). */
export async function listRecordings(ctx: Context, limit = 200): Promise<Recording[]> {
  return ctx.db
    .select()
    .from(workspaceRecordings)
    .where(readable(ctx))
    .orderBy(desc(workspaceRecordings.startedAt))
    .limit(limit);
}

/** One recording; NotFoundError for an unknown one or one outside the caller's audit scope. */
export async function getRecording(ctx: Context, id: string): Promise<Recording> {
  const [row] = await ctx.db
    .select()
    .from(workspaceRecordings)
    .where(and(eq(workspaceRecordings.id, checkId(id, "Recording")), readable(ctx)));
  if (!row) throw new NotFoundError("Recording");
  return row;
}

/** The recording's file under `recordingsDir`; refuses a stored name that leaves it. */
export function recordingPath(recordingsDir: string, recording: Pick<Recording, "file">): string {
  const root = resolve(recordingsDir);
  const path = resolve(join(root, recording.file));
  if (!path.startsWith(`${root}/`))
    throw new Error(`recording file ${recording.file} leaves ${root}`);
  return path;
}

/**
 * Deletes recordings (file and row) that started more than `retentionDays` ago, and audits it
 * (workspace.recordings_pruned: count, bytes, the oldest kept cut-off). Returns how many.
 */
export async function pruneRecordings(
  deps: { db: Db; clock: Clock; recordingsDir: string },
  retentionDays: number,
): Promise<{ deleted: number; cutoff: Date }> {
  const cutoff = new Date(deps.clock.now().getTime() - retentionDays * 86_400_000);
  const old = await deps.db
    .select()
    .from(workspaceRecordings)
    .where(lt(workspaceRecordings.startedAt, cutoff));
  if (old.length === 0) return { deleted: 0, cutoff };
  const failed: string[] = [];
  const deleted: string[] = [];
  for (const r of old) {
    try {
      rmSync(recordingPath(deps.recordingsDir, r), { force: true });
      deleted.push(r.id);
    } catch (error) {
      failed.push(`${r.id}: ${(error as Error).message}`);
    }
  }
  if (deleted.length)
    await deps.db.delete(workspaceRecordings).where(inArray(workspaceRecordings.id, deleted));
  await recordAuditAlone(deps.db, deps.clock, {
    actor: SYSTEM_ACTOR,
    action: "workspace.recordings_pruned",
    result: failed.length ? "failed" : "ok",
    detail: {
      retentionDays,
      cutoff: cutoff.toISOString(),
      deleted: deleted.length,
      recordingIds: deleted,
      ...(failed.length ? { failed } : {}),
    },
  });
  return { deleted: deleted.length, cutoff };
}
