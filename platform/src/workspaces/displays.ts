// Where a running workspace's desktop is: the VNC address and per-run password the runtime wrote
// into workspace_runs when it started the container. The browser relay asks only this interface.
import { and, desc, eq, isNull, notInArray, sql } from "drizzle-orm";
import { type Db, workspaceRuns } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";

/** A running workspace's VNC server: host (address or name), TCP port, the run's VNC password. */
export interface WorkspaceDisplay {
  runId: string;
  host: string;
  port: number;
  password: string;
}

/** Answers where a workspace's desktop is; null when it is not running or has no VNC address. */
export interface WorkspaceDisplays {
  lookup(workspaceId: string): Promise<WorkspaceDisplay | null>;
}

/** Seals and unseals secrets with the KEK under a label (the platform's Pki does). */
export interface SecretBox {
  sealSecret(label: string, text: string): Promise<string>;
  unsealSecret(label: string, sealed: string): Promise<string>;
}

/** The label a run's VNC password is sealed under: binds it to that run. */
export const vncPasswordLabel = (runId: string) => `workspace-vnc:${runId}`;

/** WorkspaceDisplays over workspace_runs: the newest run in state "running" with an address. */
export function databaseDisplays(db: Db, box: SecretBox): WorkspaceDisplays {
  return {
    async lookup(workspaceId) {
      const [run] = await db
        .select()
        .from(workspaceRuns)
        .where(
          and(
            eq(workspaceRuns.workspaceId, workspaceId),
            eq(workspaceRuns.state, "running"),
            isNull(workspaceRuns.stoppedAt),
          ),
        )
        .orderBy(desc(workspaceRuns.startedAt))
        .limit(1);
      if (!run?.vncHost || !run.vncPort || !run.vncPasswordSealed) return null;
      const password = await box.unsealSecret(vncPasswordLabel(run.id), run.vncPasswordSealed);
      return { runId: run.id, host: run.vncHost, port: run.vncPort, password };
    },
  };
}

/**
 * Records that a workspace's desktop runs at host:port with `password` (VNC passwords count 8
 * bytes; longer ones are cut by the protocol), replacing a live run of the workspace. For desktops
 * started outside the runtime (tests, benchmarks). Returns the run's id.
 */
export async function recordRunning(
  db: Db,
  clock: Clock,
  box: SecretBox,
  run: { workspaceId: string; host: string; port: number; password: string },
): Promise<string> {
  const id = crypto.randomUUID();
  const sealed = await box.sealSecret(vncPasswordLabel(id), run.password);
  // One live run a workspace: an earlier one this replaces counts as stopped.
  await db
    .update(workspaceRuns)
    .set({ state: "stopped", stoppedAt: clock.now(), vncPasswordSealed: null })
    .where(
      and(
        eq(workspaceRuns.workspaceId, run.workspaceId),
        notInArray(workspaceRuns.state, ["stopped", "failed"]),
      ),
    );
  await db.insert(workspaceRuns).values({
    id,
    workspaceId: run.workspaceId,
    state: "running",
    vncHost: run.host,
    vncPort: run.port,
    vncPasswordSealed: sealed,
    startedAt: clock.now(),
  });
  return id;
}

/** Marks a run stopped (its address no longer answers for the workspace). For the runtime. */
export async function recordStopped(db: Db, clock: Clock, runId: string): Promise<void> {
  await db
    .update(workspaceRuns)
    .set({ state: "stopped", stoppedAt: clock.now(), vncPasswordSealed: null })
    .where(eq(workspaceRuns.id, runId));
}

/** The newest run of a workspace (any state), or null: what its page shows. */
export async function latestRun(
  db: Db,
  workspaceId: string,
): Promise<typeof workspaceRuns.$inferSelect | null> {
  const [run] = await db
    .select()
    .from(workspaceRuns)
    .where(eq(workspaceRuns.workspaceId, workspaceId))
    // The live run (at most one) first, else the newest.
    .orderBy(
      sql`${workspaceRuns.state} not in ('stopped', 'failed') desc`,
      desc(workspaceRuns.startedAt),
    )
    .limit(1);
  return run ?? null;
}
