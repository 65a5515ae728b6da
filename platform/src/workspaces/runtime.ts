// Starting and stopping customers' jump workspaces on the workspace Docker endpoints: the
// per-customer network, the home volume, per-run VNC password and report token (only the sealed
// password and the token's hash are stored), the spec from the stored profile and allow-list, the
// replicas tried in turn across the endpoints (endpoints.ts). Every step is written to the run's
// workspace_runs row, so any platform instance shows it.
import type { Cidr } from "@meetpoint/common";
import { and, eq, notInArray } from "drizzle-orm";
import { type Context, conflictOnDuplicate } from "../access/index.ts";
import { type Actor, recordAudit, recordAuditAlone } from "../audit/index.ts";
import {
  type Db,
  inTransaction,
  type RunState,
  workspaceRuns,
  workspaces,
  workspaceTemplates,
} from "../db/index.ts";
import { type Clock, ConflictError } from "../shared/index.ts";
import type { SecretBox } from "./displays.ts";
import { latestRun } from "./displays.ts";
import { containerRunning } from "./docker-objects.ts";
import {
  endpointOfRun,
  removeEverywhere,
  removeForDelete,
  removeRunObjects,
  type WorkspaceEndpoint,
} from "./endpoints.ts";
import { ENDED, runStart } from "./start-steps.ts";
import { getWorkspace, settingsVersion, type Workspace } from "./workspaces.ts";

export type WorkspaceRun = typeof workspaceRuns.$inferSelect;
/** Why a workspace stopped (the audit entry's reason). */
export type StopReason = "manual" | "idle" | "template_change" | "settings_change" | "exited";

/** States of a run that is neither stopped nor failed. */
export const LIVE_STATES: RunState[] = [
  "creating_network",
  "starting",
  "waiting_desktop",
  "running",
];

export interface RuntimeDeps {
  db: Db;
  clock: Clock;
  /** Seals the run's VNC password, unseals the profile's secrets (the platform's Pki). */
  box: SecretBox;
  /**
   * The workspace Docker endpoints in their configured order (workspaceEndpoints()); a start tries
   * its replicas across them (endpointOrder), later actions use the endpoint the run recorded.
   */
  endpoints: WorkspaceEndpoint[];
  /** Milliseconds a replica may take until its desktop answers the RFB handshake. */
  startMs: number;
  networkPool: Cidr;
  networkPrefix: number;
  /** The supervisor's report URL; "{gateway}" becomes the workspace network's gateway address. */
  reportUrl: string;
  /**
   * The PEM the HTTPS listener serves now (leaf first, then its issuers), handed to the supervisor
   * for an https report URL so it trusts the platform's own certificate; absent or undefined: none.
   */
  servingCertificate?: () => string | undefined;
  /** Resolves VPN peers' names; default the system resolver. */
  lookup?: (host: string) => Promise<string[]>;
  log?: (line: string) => void;
}

export class WorkspaceRuntime {
  /** Starts in progress on this instance, by run id. */
  private readonly starts = new Map<string, Promise<void>>();

  constructor(readonly deps: RuntimeDeps) {}

  /** The newest run of a workspace (any state), or null. */
  latestRun(workspaceId: string): Promise<WorkspaceRun | null> {
    return latestRun(this.deps.db, workspaceId);
  }

  /** Resolves when this instance's start of `runId` has finished (running or failed). */
  async settled(runId: string): Promise<void> {
    await this.starts.get(runId);
  }

  /**
   * Starts the caller's workspace: those who may see it (its managers, granted technicians) may
   * start it. Returns the new run at once (state creating_network); the start goes on in the
   * background, writing its steps to the run. 404 unseen; 409 without a profile or approved
   * template, or while a run is live.
   */
  async start(ctx: Context, workspaceId: string): Promise<WorkspaceRun> {
    const { workspace } = await getWorkspace(ctx, workspaceId);
    if (!workspace.profileKind || !workspace.profile)
      throw new ConflictError("The workspace has no remote-access profile yet: store one first.");
    const [template] = await this.deps.db
      .select()
      .from(workspaceTemplates)
      .where(eq(workspaceTemplates.id, workspace.templateId));
    const values = template?.effective;
    if (!template || !values)
      throw new ConflictError("The workspace's template has no approved values.");
    const [run] = await conflictOnDuplicate(() =>
      this.deps.db
        .insert(workspaceRuns)
        .values({
          workspaceId: workspace.id,
          state: "creating_network",
          message: "creating the network",
          startedBy: ctx.caller.principal.userId,
          startedByName: ctx.caller.actor.name,
          image: values.image,
          templateId: template.id,
          templateProposalId: template.approvedProposalId,
          settingsVersion: settingsVersion(workspace),
          startedAt: this.deps.clock.now(),
        })
        .returning(),
    );
    if (!run) throw new Error("insert workspace run");
    const started = run;
    const work = runStart(this.deps, ctx.caller.actor, workspace, started, values)
      .catch((error) => this.deps.log?.(`workspace start ${started.id}: ${error}`))
      .finally(() => this.starts.delete(started.id));
    this.starts.set(started.id, work);
    return started;
  }

  /**
   * Stops the workspace's running desktop: removes its container (the home volume stays) and
   * network on the run's endpoint, records the run stopped with `reason`, audits `actor`, the
   * reason and the endpoint. An endpoint that cannot be reached (its host down) or is no longer
   * configured does not keep the run alive: the run is stopped with that said on the page and in
   * the audit entry, and the sweep removes what is left once the endpoint answers (removeOrphans).
   * 409 when it is not running (a start in progress finishes first). Returns the stopped run.
   */
  async stop(actor: Actor, workspace: Workspace, reason: StopReason): Promise<WorkspaceRun> {
    const run = await this.latestRun(workspace.id);
    if (run?.state !== "running")
      throw new ConflictError(
        run?.state && LIVE_STATES.includes(run.state)
          ? "The workspace is still starting: stop it when it runs."
          : "The workspace is not running.",
      );
    const endpoint = endpointOfRun(this.deps.endpoints, run);
    const left = await removeRunObjects(this.deps.endpoints, run);
    if (left) this.deps.log?.(`workspace ${workspace.id} stopped, its container left: ${left}`);
    return inTransaction(this.deps.db, async (tx) => {
      const [stopped] = await tx
        .update(workspaceRuns)
        .set({
          state: "stopped",
          stoppedAt: this.deps.clock.now(),
          stopReason: reason,
          vncPasswordSealed: null,
          reportTokenHash: null,
          message: left,
        })
        .where(and(eq(workspaceRuns.id, run.id), notInArray(workspaceRuns.state, ENDED)))
        .returning();
      if (!stopped) throw new ConflictError("The workspace was stopped a moment ago.");
      await recordAudit(tx, this.deps.clock, {
        actor,
        action: "workspace.stop",
        target: { type: "workspace", id: workspace.id },
        customerId: workspace.customerId,
        detail: {
          run: run.id,
          reason,
          image: run.image,
          endpoint: run.dockerEndpoint ?? endpoint?.name ?? null,
          ...(left ? { containerLeft: left } : {}),
          ranSeconds: run.runningAt
            ? Math.round((this.deps.clock.now().getTime() - run.runningAt.getTime()) / 1000)
            : null,
        },
      });
      return stopped;
    });
  }

  /** Stops the caller's workspace (Stop on its page): those who may see it may stop it. */
  async stopByCaller(ctx: Context, workspaceId: string): Promise<WorkspaceRun> {
    const { workspace } = await getWorkspace(ctx, workspaceId);
    return this.stop(ctx.caller.actor, workspace, "manual");
  }

  /** A workspace row by id (for the sweep). */
  async workspaceById(id: string): Promise<Workspace | null> {
    const [row] = await this.deps.db.select().from(workspaces).where(eq(workspaces.id, id));
    return row ?? null;
  }

  /** Failure recorded for a start whose instance went away (see sweep.ts), audited. */
  async abandonStart(run: WorkspaceRun, message: string): Promise<void> {
    const workspace = await this.workspaceById(run.workspaceId);
    // Every container and the network of the workspace, on every endpoint: the dead instance may
    // have begun a replica anywhere (no other run of the workspace is live).
    const left = await removeEverywhere(this.deps.endpoints, run.workspaceId, { volume: false });
    for (const failure of left)
      this.deps.log?.(`abandoned start ${run.id}: cleaning up ${failure}`);
    const [failed] = await this.deps.db
      .update(workspaceRuns)
      .set({ state: "failed", message, stoppedAt: this.deps.clock.now(), reportTokenHash: null })
      .where(and(eq(workspaceRuns.id, run.id), notInArray(workspaceRuns.state, ENDED)))
      .returning();
    if (failed)
      await recordAuditAlone(this.deps.db, this.deps.clock, {
        actor: { id: run.startedBy, name: run.startedByName ?? "system", ip: null },
        action: "workspace.start",
        target: { type: "workspace", id: run.workspaceId },
        customerId: workspace?.customerId ?? null,
        result: "failed",
        detail: { run: run.id, image: run.image, message },
      });
  }

  /** Before a workspace is deleted: its Docker objects go on every endpoint (removeForDelete). */
  removeDockerObjects(workspaceId: string): Promise<string[]> {
    return removeForDelete(this.deps.endpoints, workspaceId);
  }

  /**
   * Whether a running run's container still runs on the Docker host: false when it exited or is
   * gone (Xvnc died, out of memory, removed by hand); null when Docker could not say.
   */
  async containerRuns(run: WorkspaceRun): Promise<boolean | null> {
    const endpoint = endpointOfRun(this.deps.endpoints, run);
    if (!run.containerName || !endpoint) return null;
    return containerRunning(endpoint.docker, run.containerName);
  }

  /** Whether this instance is running the start of `runId`. */
  isStarting(runId: string): boolean {
    return this.starts.has(runId);
  }
}
