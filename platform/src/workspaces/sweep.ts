// The workspace stop job (one instance at a time, under the "workspace-stops" job lease): stops
// running workspaces that had no browser connection for their template's idle timeout, those
// whose template changed (an approved change, or another template) once nobody views them, those
// whose profile or allow-list changed at once (what they enforce is no longer what was decided),
// and those whose container ended by itself; fails starts whose instance went away; removes, on
// every Docker endpoint, workspace containers and networks no live run accounts for (left on a
// host that could not be reached when its workspace stopped or failed over).
import { and, desc, eq, gt, inArray, isNull } from "drizzle-orm";
import { SYSTEM_ACTOR } from "../audit/index.ts";
import { workspaceRecordings, workspaceRuns, workspaces, workspaceTemplates } from "../db/index.ts";
import { dockerCall, removeContainer, removeNetwork, WORKSPACE_LABEL } from "./docker-objects.ts";
import { endpointOfRun } from "./endpoints.ts";
import { STALE_MS } from "./relay.ts";
import { LIVE_STATES, type StopReason, type WorkspaceRuntime } from "./runtime.ts";
import { settingsVersion } from "./workspaces.ts";

/** What one sweep did: workspace ids stopped with their reason, starts given up, orphans removed. */
export interface SweepResult {
  stopped: { workspaceId: string; reason: StopReason }[];
  abandoned: string[];
  /** Docker objects removed as orphans: "<endpoint> container|network <name>". */
  orphans: string[];
}

/**
 * One pass over the live runs. Idle: no open connection and the last one ended (or, without one,
 * the desktop came up) at least the template's idleTimeoutMinutes ago, by the runtime's clock.
 * A start in a transient state older than `staleStartMs` (milliseconds per replica) times the
 * template's replicas + 1 that this instance is not running is failed (its instance stopped). Errors of one workspace are logged and do not stop the others.
 */
export async function sweepWorkspaces(
  runtime: WorkspaceRuntime,
  staleStartMs: number,
): Promise<SweepResult> {
  const { db, clock } = runtime.deps;
  const result: SweepResult = { stopped: [], abandoned: [], orphans: [] };
  const rows = await db
    .select({ run: workspaceRuns, workspace: workspaces, template: workspaceTemplates })
    .from(workspaceRuns)
    .innerJoin(workspaces, eq(workspaces.id, workspaceRuns.workspaceId))
    .innerJoin(workspaceTemplates, eq(workspaceTemplates.id, workspaces.templateId))
    .where(inArray(workspaceRuns.state, LIVE_STATES));
  const now = clock.now().getTime();
  for (const { run, workspace, template } of rows) {
    try {
      if (run.state !== "running") {
        // Every replica may take its start time; beyond that (and a margin) nobody is starting it.
        const limit = staleStartMs * ((template.effective?.replicas ?? 2) + 1);
        if (!runtime.isStarting(run.id) && now - run.startedAt.getTime() > limit) {
          await runtime.abandonStart(run, "the platform instance that was starting it stopped");
          result.abandoned.push(workspace.id);
        }
        continue;
      }
      // A desktop that ended by itself (Xvnc died, out of memory): recorded, not shown as running.
      if ((await runtime.containerRuns(run)) === false) {
        await runtime.stop(SYSTEM_ACTOR, workspace, "exited");
        result.stopped.push({ workspaceId: workspace.id, reason: "exited" });
        continue;
      }
      // A narrowed allow-list or a new profile holds now, viewer or not.
      if (run.settingsVersion && run.settingsVersion !== settingsVersion(workspace)) {
        await runtime.stop(SYSTEM_ACTOR, workspace, "settings_change");
        result.stopped.push({ workspaceId: workspace.id, reason: "settings_change" });
        continue;
      }
      const [open] = await db
        .select({ id: workspaceRecordings.id })
        .from(workspaceRecordings)
        .where(
          and(
            eq(workspaceRecordings.workspaceId, workspace.id),
            isNull(workspaceRecordings.endedAt),
            // A viewer left open by a stopped instance (stale heartbeat) holds nothing.
            gt(workspaceRecordings.heartbeatAt, new Date(now - STALE_MS)),
          ),
        );
      if (open) continue;
      const changed =
        run.templateId !== workspace.templateId ||
        run.templateProposalId !== template.approvedProposalId;
      let reason: StopReason | null = changed ? "template_change" : null;
      if (!reason) {
        const [last] = await db
          .select({ endedAt: workspaceRecordings.endedAt })
          .from(workspaceRecordings)
          .where(eq(workspaceRecordings.workspaceId, workspace.id))
          .orderBy(desc(workspaceRecordings.endedAt))
          .limit(1);
        const since = Math.max(
          (run.runningAt ?? run.startedAt).getTime(),
          last?.endedAt?.getTime() ?? 0,
        );
        const idleMs = (template.effective?.idleTimeoutMinutes ?? 30) * 60_000;
        if (now - since >= idleMs) reason = "idle";
      }
      if (!reason) continue;
      await runtime.stop(SYSTEM_ACTOR, workspace, reason);
      result.stopped.push({ workspaceId: workspace.id, reason });
    } catch (error) {
      runtime.deps.log?.(`workspace ${workspace.id}: stop job: ${error}`);
    }
  }
  result.orphans = await removeOrphans(runtime);
  return result;
}

/**
 * On every endpoint, removes the containers and networks labelled with a workspace of this
 * database that no live run accounts for: the workspace has no live run, or its run is running on
 * another endpoint (or, for a container, under another name). A workspace whose start is in
 * progress is left alone (the start removes what it abandons). Objects of workspaces this database
 * does not know (another platform on the same Docker host) are never touched. The objects are
 * listed before the runs are read, so a start that begins meanwhile is seen. The endpoints are
 * looked at in parallel; one that fails is logged and skipped. Returns what was removed ("<endpoint> container <name>").
 */
export async function removeOrphans(runtime: WorkspaceRuntime): Promise<string[]> {
  const { db, endpoints } = runtime.deps;
  const removed: string[] = [];
  // In parallel: a host that does not answer holds up only its own part (30 s a call).
  const perEndpoint = endpoints.map(async (endpoint) => {
    try {
      const filters = JSON.stringify({ label: [WORKSPACE_LABEL] });
      const containers = await dockerCall(
        "list containers",
        endpoint.docker.listContainers({ all: true, filters }),
      );
      const networks = await dockerCall("list networks", endpoint.docker.listNetworks({ filters }));
      const ids = [
        ...new Set(
          [...containers, ...networks]
            .map((o) => o.Labels?.[WORKSPACE_LABEL] ?? "")
            .filter((id) => /^[0-9a-f-]{36}$/.test(id)),
        ),
      ];
      if (ids.length === 0) return;
      const known = new Set(
        (
          await db.select({ id: workspaces.id }).from(workspaces).where(inArray(workspaces.id, ids))
        ).map((w) => w.id),
      );
      const live = await db
        .select()
        .from(workspaceRuns)
        .where(
          and(inArray(workspaceRuns.workspaceId, ids), inArray(workspaceRuns.state, LIVE_STATES)),
        );
      /** Whether the object of `workspaceId` (container `name`, or the network) is an orphan here. */
      const orphan = (workspaceId: string, name: string | null) => {
        if (!known.has(workspaceId)) return false;
        const run = live.find((r) => r.workspaceId === workspaceId);
        if (!run) return true;
        if (run.state !== "running") return false;
        if (endpointOfRun(endpoints, run) !== endpoint) return true;
        return name !== null && run.containerName !== name;
      };
      for (const c of containers) {
        const name = (c.Names[0] ?? c.Id).replace(/^\//, "");
        if (!orphan(c.Labels?.[WORKSPACE_LABEL] ?? "", name)) continue;
        await removeContainer(endpoint.docker, c.Id);
        removed.push(`${endpoint.name} container ${name}`);
      }
      for (const n of networks) {
        if (!orphan(n.Labels?.[WORKSPACE_LABEL] ?? "", null)) continue;
        await removeNetwork(endpoint.docker, n.Name);
        removed.push(`${endpoint.name} network ${n.Name}`);
      }
    } catch (error) {
      runtime.deps.log?.(`workspace orphans on ${endpoint.name}: ${error}`);
    }
  });
  await Promise.all(perEndpoint);
  if (removed.length) runtime.deps.log?.(`workspace orphans removed: ${removed.join(", ")}`);
  return removed;
}
