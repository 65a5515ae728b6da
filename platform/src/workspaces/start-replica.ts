// The two Docker-side steps of a workspace start on one endpoint (start-steps.ts runs them per
// replica): preparing the endpoint (the per-customer network there, the start spec with that
// network's gateway, the image), then creating one replica's container and waiting until its
// desktop answers the RFB handshake.
import { WORKSPACE_VNC_PORT } from "@meetpoint/workspace/src/container.ts";
import { startWorkspace } from "@meetpoint/workspace/src/runtime.ts";
import type { workspaceTemplates } from "../db/index.ts";
import {
  containerName,
  dockerCall,
  ensureNetwork,
  homeVolumeName,
  resolveImage,
  WORKSPACE_LABEL,
  type WorkspaceNetwork,
} from "./docker-objects.ts";
import { dnsServers } from "./egress.ts";
import { endpointPool, type WorkspaceEndpoint } from "./endpoints.ts";
import type { RuntimeDeps } from "./runtime.ts";
import { rfbAnswers, startSpec } from "./start-spec.ts";
import type { Workspace } from "./workspaces.ts";

/** A start's failure that no other replica or endpoint would change (the profile cannot be used). */
export class SpecFailure extends Error {}

type Spec = Awaited<ReturnType<typeof startSpec>>;
export type TemplateValues = NonNullable<typeof workspaceTemplates.$inferSelect.effective>;

/** An endpoint ready for replicas: its workspace network, the spec for it, the image reference. */
export interface PreparedEndpoint {
  endpoint: WorkspaceEndpoint;
  network: WorkspaceNetwork;
  spec: Spec;
  image: string;
}

/**
 * Ensures the workspace's network on `endpoint`, builds the start spec for it (the report URL names
 * that network's gateway; a fresh VNC password and report token) and resolves the template image
 * there. `onNetwork` is told the network's name before the spec is built. Docker failures
 * propagate as they are; a spec that cannot be built throws SpecFailure.
 */
export async function prepareEndpoint(
  deps: RuntimeDeps,
  workspace: Workspace,
  endpoint: WorkspaceEndpoint,
  imageReference: string,
  onNetwork: (network: WorkspaceNetwork) => Promise<void>,
): Promise<PreparedEndpoint> {
  const pool = endpointPool(
    deps.networkPool,
    deps.networkPrefix,
    deps.endpoints.indexOf(endpoint),
    deps.endpoints.length,
  );
  if (!pool)
    throw new Error(
      `the workspace network pool cannot give each of the ${deps.endpoints.length} Docker endpoints a /${deps.networkPrefix} of its own`,
    );
  const network = await ensureNetwork(endpoint.docker, workspace.id, pool, deps.networkPrefix);
  await onNetwork(network);
  const spec = await startSpec(workspace, network.gateway, deps).catch((error) => {
    throw new SpecFailure(error instanceof Error ? error.message : String(error));
  });
  const image = await resolveImage(endpoint.docker, imageReference);
  return { endpoint, network, spec, image };
}

/**
 * Creates and starts replica `replica`'s container on the prepared endpoint and waits up to
 * `deps.startMs` milliseconds for its desktop's RFB handshake. `onCreated` runs once the container
 * is started (the runtime moves the run to waiting_desktop). Returns the desktop's address on the
 * workspace network. Throws when the container exits, the desktop does not answer in time, or
 * Docker fails (a hanging endpoint after 30 s per call).
 */
export async function startReplica(
  deps: RuntimeDeps,
  prepared: PreparedEndpoint,
  workspace: Workspace,
  runId: string,
  replica: number,
  values: TemplateValues,
  onCreated: () => Promise<void>,
): Promise<string> {
  const { docker } = prepared.endpoint;
  const { network, spec } = prepared;
  const container = await dockerCall(
    "create and start the container",
    startWorkspace(docker, {
      image: prepared.image,
      name: containerName(workspace.id, replica),
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
        "meetpoint.run": runId,
      },
      spec,
    }),
  );
  await onCreated();
  const info = await dockerCall("inspect container", container.inspect());
  const host = info.NetworkSettings.Networks[network.name]?.IPAddress ?? "";
  const deadline = performance.now() + deps.startMs;
  while (host && performance.now() < deadline) {
    if (await rfbAnswers(host, WORKSPACE_VNC_PORT, 1000)) return host;
    const state = await dockerCall("inspect container", container.inspect());
    if (!state.State.Running)
      throw new Error(`the container exited (code ${state.State.ExitCode})`);
    await Bun.sleep(200);
  }
  throw new Error(`the desktop did not answer within ${deps.startMs / 1000} s`);
}
