// Starting a workspace container through the Docker Engine API (dockerode): create with the
// hardened options, attach to stdin, start, hand the spec over on stdin. Anything that fails on
// the way removes the container again: nothing half-created is left behind.
import type { WorkspaceSpec } from "@meetpoint/common";
import type Docker from "dockerode";
import { type WorkspaceContainer, workspaceContainerOptions } from "./container.ts";

/**
 * Creates and starts a workspace container and writes `spec` (JSON) to its supervisor's stdin.
 * Resolves with the running container; rejects with the Docker error wrapped ("start workspace
 * <name>") after removing what it created.
 */
export async function startWorkspace(
  docker: Docker,
  input: WorkspaceContainer & { spec: WorkspaceSpec },
): Promise<Docker.Container> {
  const { spec, ...container } = input;
  const created = await docker
    .createContainer(workspaceContainerOptions(container))
    .catch((cause) => {
      throw new Error(`start workspace ${input.name}: create`, { cause });
    });
  try {
    const stdin = await created.attach({ stream: true, stdin: true, hijack: true });
    await created.start();
    await new Promise<void>((resolve, reject) => {
      stdin.once("error", reject);
      stdin.end(JSON.stringify(spec), () => resolve());
    });
    return created;
  } catch (cause) {
    await created.remove({ force: true }).catch(() => {});
    throw new Error(`start workspace ${input.name}`, { cause });
  }
}
