// Starting and stopping customers' jump workspaces on the workspace Docker endpoint: the per-customer
// network, the home volume, per-run VNC password and report token (only the sealed password and the
// token's hash are stored), the spec from the stored profile and allow-list, the replicas tried in
// turn. Every step is written to the run's workspace_runs row, so any platform instance shows it.
import { createHash } from "node:crypto";
import type { Cidr } from "@meetpoint/common";
import { WORKSPACE_VNC_PORT } from "@meetpoint/workspace/src/container.ts";
import { startWorkspace } from "@meetpoint/workspace/src/runtime.ts";
import type Docker from "dockerode";
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
import { latestRun, vncPasswordLabel } from "./displays.ts";
import {
  containerName,
  dockerCall,
  dockerFailure,
  ensureNetwork,
  homeVolumeName,
  removeContainer,
  removeNetwork,
  removeWorkspaceContainers,
  resolveImage,
  WORKSPACE_LABEL,
} from "./docker-objects.ts";
import { dnsServers } from "./egress.ts";
import { rfbAnswers, startSpec } from "./start-spec.ts";
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
const ENDED: RunState[] = ["stopped", "failed"];

export interface RuntimeDeps {
  db: Db;
  clock: Clock;
  /** Seals the run's VNC password, unseals the profile's secrets (the platform's Pki). */
  box: SecretBox;
  docker: Docker;
  /** The endpoint as the operator wrote it, for messages ("unix:///var/run/docker.sock"). */
  endpoint: string;
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

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** A start that failed with a message for the page and the audit log. */
class StartFailure extends Error {}
const ABANDONED = "the start was abandoned meanwhile (its run ended)";

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
    const work = this.run(ctx.caller.actor, workspace, started, values)
      .catch((error) => this.deps.log?.(`workspace start ${started.id}: ${error}`))
      .finally(() => this.starts.delete(started.id));
    this.starts.set(started.id, work);
    return started;
  }

  /**
   * Moves a live run to its next step; throws when the run has ended meanwhile (another instance
   * abandoned this start): the start stops and removes what it made, and never revives the run.
   */
  private async setState(runId: string, state: RunState, message: string | null): Promise<void> {
    const moved = await this.deps.db
      .update(workspaceRuns)
      .set({ state, message })
      .where(and(eq(workspaceRuns.id, runId), notInArray(workspaceRuns.state, ENDED)))
      .returning({ id: workspaceRuns.id });
    if (moved.length === 0) throw new StartFailure(ABANDONED);
  }

  /** The start's steps; records running or failed, audits either, leaves nothing behind on failure. */
  private async run(
    actor: Actor,
    workspace: Workspace,
    run: WorkspaceRun,
    values: NonNullable<typeof workspaceTemplates.$inferSelect.effective>,
  ): Promise<void> {
    const { docker } = this.deps;
    const began = performance.now();
    const attempts: { replica: number; error: string }[] = [];
    let network: Awaited<ReturnType<typeof ensureNetwork>> | null = null;
    try {
      network = await ensureNetwork(
        docker,
        workspace.id,
        this.deps.networkPool,
        this.deps.networkPrefix,
      ).catch((error) => {
        throw new StartFailure(dockerFailure(error, this.deps.endpoint, values.image), {
          cause: error,
        });
      });
      await this.deps.db
        .update(workspaceRuns)
        .set({ networkName: network.name })
        .where(eq(workspaceRuns.id, run.id));
      const spec = await startSpec(workspace, network.gateway, this.deps).catch((error) => {
        throw new StartFailure(error instanceof Error ? error.message : String(error));
      });
      await this.deps.db
        .update(workspaceRuns)
        .set({ reportTokenHash: sha256(spec.report.token) })
        .where(eq(workspaceRuns.id, run.id));
      const image = await resolveImage(docker, values.image).catch((error) => {
        throw new StartFailure(dockerFailure(error, this.deps.endpoint, values.image), {
          cause: error,
        });
      });
      const replicas = Math.max(1, values.replicas);
      for (let replica = 1; replica <= replicas; replica++) {
        const name = containerName(workspace.id, replica);
        await this.setState(run.id, "starting", `starting replica ${replica} of ${replicas}`);
        try {
          // A container of this name left by a crashed start would block the create.
          await removeContainer(docker, name);
          // Named on the run before it exists: whoever abandons this start knows what to remove.
          await this.deps.db
            .update(workspaceRuns)
            .set({ containerName: name })
            .where(eq(workspaceRuns.id, run.id));
          // A Docker endpoint that hangs fails the replica after DOCKER_CALL_MS, not never.
          const container = await dockerCall(
            "create and start the container",
            startWorkspace(docker, {
              image,
              name,
              network: network.name,
              homeVolume: homeVolumeName(workspace.id),
              dns: dnsServers(workspace.allowList),
              limits: {
                memoryBytes: values.memoryMib * 1024 ** 2,
                cpus: values.cpuMillicores / 1000,
                pids: values.pidsLimit,
              },
              labels: {
                [WORKSPACE_LABEL]: workspace.id,
                "meetpoint.customer": workspace.customerId,
                "meetpoint.run": run.id,
              },
              spec,
            }),
          );
          await this.setState(
            run.id,
            "waiting_desktop",
            `waiting for the desktop (replica ${replica})`,
          );
          const info = await dockerCall("inspect container", container.inspect());
          const host = info.NetworkSettings.Networks[network.name]?.IPAddress ?? "";
          const deadline = performance.now() + this.deps.startMs;
          let answered = false;
          while (host && performance.now() < deadline) {
            if (await rfbAnswers(host, WORKSPACE_VNC_PORT, 1000)) {
              answered = true;
              break;
            }
            const state = await dockerCall("inspect container", container.inspect());
            if (!state.State.Running)
              throw new Error(`the container exited (code ${state.State.ExitCode})`);
            await Bun.sleep(200);
          }
          if (!answered)
            throw new Error(`the desktop did not answer within ${this.deps.startMs / 1000} s`);
          const sealed = await this.deps.box.sealSecret(
            vncPasswordLabel(run.id),
            spec.vnc.password,
          );
          const now = this.deps.clock.now();
          await inTransaction(this.deps.db, async (tx) => {
            const [live] = await tx
              .update(workspaceRuns)
              .set({
                state: "running",
                message: null,
                vncHost: host,
                vncPort: WORKSPACE_VNC_PORT,
                vncPasswordSealed: sealed,
                runningAt: now,
              })
              .where(and(eq(workspaceRuns.id, run.id), notInArray(workspaceRuns.state, ENDED)))
              .returning({ id: workspaceRuns.id });
            if (!live) throw new StartFailure(ABANDONED);
            await recordAudit(tx, this.deps.clock, {
              actor,
              action: "workspace.start",
              target: { type: "workspace", id: workspace.id },
              customerId: workspace.customerId,
              detail: {
                run: run.id,
                image: values.image,
                replica,
                failedReplicas: attempts,
                network: network?.subnet,
                seconds: Math.round((performance.now() - began) / 100) / 10,
              },
            });
          });
          return;
        } catch (error) {
          attempts.push({
            replica,
            error: dockerFailure(error, this.deps.endpoint, values.image),
          });
          await removeContainer(docker, name).catch((e) =>
            this.deps.log?.(`removing ${name} after a failed start: ${e}`),
          );
          if (error instanceof StartFailure && error.message === ABANDONED) throw error;
          // An unreachable endpoint fails every replica alike.
          if (/cannot be reached|did not answer \(/.test(attempts.at(-1)?.error ?? "")) break;
        }
      }
      throw new StartFailure(
        attempts.map((a) => `replica ${a.replica}: ${a.error}`).join("; ") || "no replica started",
      );
    } catch (error) {
      const message =
        error instanceof StartFailure
          ? error.message
          : dockerFailure(error, this.deps.endpoint, values.image);
      if (network)
        await removeNetwork(docker, network.name).catch((e) =>
          this.deps.log?.(`removing network ${network?.name} after a failed start: ${e}`),
        );
      await inTransaction(this.deps.db, async (tx) => {
        const [ended] = await tx
          .update(workspaceRuns)
          .set({
            state: "failed",
            message,
            stoppedAt: this.deps.clock.now(),
            vncPasswordSealed: null,
            reportTokenHash: null,
          })
          .where(and(eq(workspaceRuns.id, run.id), notInArray(workspaceRuns.state, ENDED)))
          .returning({ id: workspaceRuns.id });
        // Abandoned by another instance: it recorded and audited the end already.
        if (!ended) return;
        await recordAudit(tx, this.deps.clock, {
          actor,
          action: "workspace.start",
          target: { type: "workspace", id: workspace.id },
          customerId: workspace.customerId,
          result: "failed",
          detail: { run: run.id, image: values.image, message, failedReplicas: attempts },
        });
      });
    }
  }

  /**
   * Stops the workspace's running desktop: removes its container (the home volume stays) and
   * network, records the run stopped with `reason`, audits `actor` and the reason. 409 when it is
   * not running (a start in progress finishes first). Returns the stopped run.
   */
  async stop(actor: Actor, workspace: Workspace, reason: StopReason): Promise<WorkspaceRun> {
    const run = await this.latestRun(workspace.id);
    if (run?.state !== "running")
      throw new ConflictError(
        run?.state && LIVE_STATES.includes(run.state)
          ? "The workspace is still starting: stop it when it runs."
          : "The workspace is not running.",
      );
    const { docker } = this.deps;
    if (run.containerName) await removeContainer(docker, run.containerName);
    if (run.networkName) await removeNetwork(docker, run.networkName);
    return inTransaction(this.deps.db, async (tx) => {
      const [stopped] = await tx
        .update(workspaceRuns)
        .set({
          state: "stopped",
          stoppedAt: this.deps.clock.now(),
          stopReason: reason,
          vncPasswordSealed: null,
          reportTokenHash: null,
          message: null,
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
    // Every container of the workspace, by label: a replica the dead instance had begun too.
    await removeWorkspaceContainers(this.deps.docker, run.workspaceId).catch(async () => {
      if (run.containerName)
        await removeContainer(this.deps.docker, run.containerName).catch(() => {});
    });
    if (run.networkName) await removeNetwork(this.deps.docker, run.networkName).catch(() => {});
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

  /**
   * Whether a running run's container still runs on the Docker host: false when it exited or is
   * gone (Xvnc died, out of memory, removed by hand); null when Docker could not say.
   */
  async containerRuns(run: WorkspaceRun): Promise<boolean | null> {
    if (!run.containerName) return null;
    try {
      const info = await dockerCall(
        "inspect container",
        this.deps.docker.getContainer(run.containerName).inspect(),
      );
      return info.State.Running;
    } catch (error) {
      return (error as { statusCode?: number }).statusCode === 404 ? false : null;
    }
  }

  /** Whether this instance is running the start of `runId`. */
  isStarting(runId: string): boolean {
    return this.starts.has(runId);
  }
}
