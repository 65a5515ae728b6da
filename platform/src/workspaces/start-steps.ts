// The steps of one workspace start, run in the background by WorkspaceRuntime.start (runtime.ts):
// replica after replica across the endpoints, each step written to the run's workspace_runs row,
// running or failed recorded and audited at the end, nothing left behind on failure.
import { createHash } from "node:crypto";
import { WORKSPACE_VNC_PORT } from "@meetpoint/workspace/src/container.ts";
import { and, eq, notInArray } from "drizzle-orm";
import { type Actor, recordAudit } from "../audit/index.ts";
import { inTransaction, type RunState, workspaceRuns } from "../db/index.ts";
import { vncPasswordLabel } from "./displays.ts";
import {
  containerName,
  dockerFailure,
  networkName,
  removeContainer,
  removeNetwork,
} from "./docker-objects.ts";
import {
  endpointOrder,
  lastRanEndpoint,
  unreachable,
  type WorkspaceEndpoint,
} from "./endpoints.ts";
import type { RuntimeDeps, WorkspaceRun } from "./runtime.ts";
import {
  type PreparedEndpoint,
  prepareEndpoint,
  SpecFailure,
  startReplica,
  type TemplateValues,
} from "./start-replica.ts";
import type { Workspace } from "./workspaces.ts";

/** States a run ends in (no step moves it on from them). */
export const ENDED: RunState[] = ["stopped", "failed"];

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** A start that failed with a message for the page and the audit log. */
class StartFailure extends Error {}
const ABANDONED = "the start was abandoned meanwhile (its run ended)";

/**
 * Moves a live run to its next step; throws when the run has ended meanwhile (another instance
 * abandoned this start): the start stops and removes what it made, and never revives the run.
 */
async function setState(
  deps: RuntimeDeps,
  runId: string,
  state: RunState,
  message: string | null,
  more: Partial<WorkspaceRun> = {},
): Promise<void> {
  const moved = await deps.db
    .update(workspaceRuns)
    .set({ ...more, state, message })
    .where(and(eq(workspaceRuns.id, runId), notInArray(workspaceRuns.state, ENDED)))
    .returning({ id: workspaceRuns.id });
  if (moved.length === 0) throw new StartFailure(ABANDONED);
}

/**
 * The start's steps: replica after replica on the endpoints endpointOrder gives (the endpoint
 * the workspace last ran on first); an endpoint that could not be reached or prepared gets no
 * further replica of this start. Records running or failed, audits either (with the endpoint
 * used and each failed replica's endpoint), leaves nothing behind on failure.
 */
export async function runStart(
  deps: RuntimeDeps,
  actor: Actor,
  workspace: Workspace,
  run: WorkspaceRun,
  values: TemplateValues,
): Promise<void> {
  const { db, endpoints } = deps;
  const began = performance.now();
  const attempts: { replica: number; endpoint: string; error: string }[] = [];
  // Endpoints this start gives up on; of them, those that could not be reached at all.
  const given = new Set<string>();
  const silent = new Set<string>();
  // The endpoint whose workspace network this start may have made, and it prepared.
  let current: WorkspaceEndpoint | null = null;
  let prepared: PreparedEndpoint | null = null;
  try {
    const replicas = Math.max(1, values.replicas);
    const first = endpoints[0]?.name ?? "";
    const order = endpointOrder(
      endpoints.map((e) => e.name),
      await lastRanEndpoint(db, workspace.id, first),
      replicas,
    );
    for (let replica = 1; replica <= replicas; replica++) {
      const endpoint = endpoints.find((e) => e.name === order[replica - 1]);
      if (!endpoint || given.has(endpoint.name)) continue;
      const name = containerName(workspace.id, replica);
      // Named on the run before they exist: whoever abandons this start knows where to look.
      await setState(
        deps,
        run.id,
        prepared?.endpoint === endpoint ? "starting" : "creating_network",
        `starting replica ${replica} of ${replicas} on ${endpoint.name}`,
        { dockerEndpoint: endpoint.name, containerName: name },
      );
      try {
        if (current && current !== endpoint && !silent.has(current.name))
          await leaveEndpoint(deps, current, workspace.id);
        current = endpoint;
        if (prepared?.endpoint !== endpoint) {
          prepared = null;
          prepared = await prepareEndpoint(
            deps,
            workspace,
            endpoint,
            values.image,
            async (network) => {
              await db
                .update(workspaceRuns)
                .set({ networkName: network.name })
                .where(eq(workspaceRuns.id, run.id));
            },
          );
          await db
            .update(workspaceRuns)
            .set({ reportTokenHash: sha256(prepared.spec.report.token) })
            .where(eq(workspaceRuns.id, run.id));
        }
        const ready = prepared;
        // A container of this name left by a crashed start would block the create.
        await removeContainer(endpoint.docker, name);
        const host = await startReplica(deps, ready, workspace, run.id, replica, values, () =>
          setState(
            deps,
            run.id,
            "waiting_desktop",
            `waiting for the desktop (replica ${replica} on ${endpoint.name})`,
          ),
        );
        const sealed = await deps.box.sealSecret(vncPasswordLabel(run.id), ready.spec.vnc.password);
        const now = deps.clock.now();
        await inTransaction(db, async (tx) => {
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
          await recordAudit(tx, deps.clock, {
            actor,
            action: "workspace.start",
            target: { type: "workspace", id: workspace.id },
            customerId: workspace.customerId,
            detail: {
              run: run.id,
              image: values.image,
              replica,
              endpoint: endpoint.name,
              failedReplicas: attempts,
              network: ready.network.subnet,
              seconds: Math.round((performance.now() - began) / 100) / 10,
            },
          });
        });
        return;
      } catch (error) {
        const message = dockerFailure(error, endpoint.name, values.image);
        attempts.push({ replica, endpoint: endpoint.name, error: message });
        await removeContainer(endpoint.docker, name).catch((e) =>
          deps.log?.(`removing ${name} on ${endpoint.name} after a failed start: ${e}`),
        );
        if (error instanceof StartFailure || error instanceof SpecFailure) throw error;
        // An endpoint that cannot be reached or prepared fails every replica alike.
        if (unreachable(message)) silent.add(endpoint.name);
        if (!prepared || silent.has(endpoint.name)) given.add(endpoint.name);
      }
    }
    throw new StartFailure(
      attempts.map((a) => `replica ${a.replica} on ${a.endpoint}: ${a.error}`).join("; ") ||
        "no replica started",
    );
  } catch (error) {
    const message =
      error instanceof StartFailure || error instanceof SpecFailure
        ? error.message
        : dockerFailure(error, current?.name ?? "", values.image);
    if (current && !silent.has(current.name)) await leaveEndpoint(deps, current, workspace.id);
    await inTransaction(db, async (tx) => {
      const [ended] = await tx
        .update(workspaceRuns)
        .set({
          state: "failed",
          message,
          stoppedAt: deps.clock.now(),
          vncPasswordSealed: null,
          reportTokenHash: null,
        })
        .where(and(eq(workspaceRuns.id, run.id), notInArray(workspaceRuns.state, ENDED)))
        .returning({ id: workspaceRuns.id });
      // Abandoned by another instance: it recorded and audited the end already.
      if (!ended) return;
      await recordAudit(tx, deps.clock, {
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

/** Removes the workspace network a start made on an endpoint it leaves; failures are logged. */
async function leaveEndpoint(
  deps: RuntimeDeps,
  endpoint: WorkspaceEndpoint,
  workspaceId: string,
): Promise<void> {
  const name = networkName(workspaceId);
  await removeNetwork(endpoint.docker, name).catch((e) =>
    deps.log?.(`removing network ${name} on ${endpoint.name} after a failed start: ${e}`),
  );
}
