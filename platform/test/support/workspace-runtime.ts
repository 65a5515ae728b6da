// A customer's jump workspace ready to start: an approved template on `image` (a second platform
// admin approves), an OpenVPN profile whose peer does not answer, a granted technician. For the
// runtime tests (workspace-runtime*.test.ts).
import { parseCidr } from "@meetpoint/common";
import Docker from "dockerode";
import type { Context } from "../../src/access/index.ts";
import { createUser, grantRole } from "../../src/identity/index.ts";
import { createCustomer } from "../../src/masterdata/index.ts";
import {
  approveProposal,
  containerName,
  createWorkspace,
  grantAccess,
  homeVolumeName,
  networkName,
  proposeChange,
  proposeTemplate,
  setWorkspaceProfile,
  WorkspaceRuntime,
} from "../../src/workspaces/index.ts";
import type { TestPlatform } from "./platform.ts";
import { firstSignIn } from "./portal.ts";

export interface TemplateLimits {
  memoryMib?: number;
  idleTimeoutMinutes?: number;
  replicas?: number;
}

const form = (image: string, limits: TemplateLimits) => ({
  image,
  cpu: "1",
  memoryMib: String(limits.memoryMib ?? 1024),
  pidsLimit: "256",
  idleTimeoutMinutes: String(limits.idleTimeoutMinutes ?? 30),
  replicas: String(limits.replicas ?? 2),
});

/**
 * A runtime on the Docker endpoints at the Unix sockets `socketPaths` (which need not exist: a
 * start then fails at once), 5 s a replica, networks from 198.19.240.0/21, reports over http;
 * what it logs goes to `log` (none by default).
 */
export function socketRuntime(
  deps: Pick<ConstructorParameters<typeof WorkspaceRuntime>[0], "db" | "clock"> & {
    pki: ConstructorParameters<typeof WorkspaceRuntime>[0]["box"];
  },
  socketPaths: string | string[],
  log?: (line: string) => void,
): WorkspaceRuntime {
  return new WorkspaceRuntime({
    db: deps.db,
    clock: deps.clock,
    box: deps.pki,
    endpoints: [socketPaths].flat().map((socketPath) => ({
      name: `unix://${socketPath}`,
      docker: new Docker({ socketPath }),
    })),
    startMs: 5000,
    networkPool: parseCidr("198.19.240.0/21") ?? { base: 0, prefix: 32 },
    networkPrefix: 28,
    reportUrl: "http://{gateway}:8443/api/workspace/v1/report",
    log,
  });
}

/** Removes what tests left of these workspaces on `docker`: containers, networks, home volumes. */
export async function removeWorkspaceObjects(
  docker: Docker,
  workspaceIds: string[],
): Promise<void> {
  for (const id of workspaceIds) {
    for (const replica of [1, 2, 3])
      await docker
        .getContainer(containerName(id, replica))
        .remove({ force: true })
        .catch(() => {});
    await docker
      .getNetwork(networkName(id))
      .remove()
      .catch(() => {});
    await docker
      .getVolume(homeVolumeName(id))
      .remove()
      .catch(() => {});
  }
}

/** A second platform admin, for approvals (the proposer cannot approve). */
export async function secondAdmin(p: TestPlatform): Promise<Context> {
  const u = await createUser(p.adminCtx, { username: "approver", displayName: "Approver" });
  await grantRole(p.adminCtx, u.user.id, { role: "platform_admin", customerId: "" });
  return {
    ...p.adminCtx,
    caller: {
      principal: {
        userId: u.user.id,
        username: "approver",
        displayName: "Approver",
        grants: [{ role: "platform_admin", customerId: null }],
      },
      actor: { id: u.user.id, name: "approver", ip: null },
    },
  };
}

/** An approved template named `name` on `image`. */
export async function approvedTemplate(
  p: TestPlatform,
  approver: Context,
  name: string,
  image: string,
  limits: TemplateLimits = {},
): Promise<string> {
  const { template, proposal } = await proposeTemplate(p.adminCtx, {
    name,
    ...form(image, limits),
  });
  await approveProposal(approver, proposal.id);
  return template.id;
}

/** Proposes new values for the template and has the approver approve them. */
export async function changeTemplate(
  p: TestPlatform,
  approver: Context,
  templateId: string,
  image: string,
  limits: TemplateLimits,
): Promise<void> {
  const proposal = await proposeChange(p.adminCtx, templateId, form(image, limits));
  await approveProposal(approver, proposal.id);
}

/**
 * A customer named `name` with a workspace on `templateId` (OpenVPN profile to 192.0.2.10, which
 * does not answer) and a technician granted access, signed in to the portal (with TOTP).
 */
export async function customerWorkspace(p: TestPlatform, name: string, templateId: string) {
  const customer = await createCustomer(p.adminCtx, { name });
  const workspace = await createWorkspace(p.adminCtx, customer.id, { templateId });
  await setWorkspaceProfile(p.adminCtx, p.pki, workspace.id, {
    kind: "openvpn",
    profile: "client\ndev tun\nproto udp\nremote 192.0.2.10 1194\nnobind\n",
  });
  const username = `tech-${name.toLowerCase()}`;
  const u = await createUser(p.adminCtx, { username, displayName: username });
  await grantRole(p.adminCtx, u.user.id, { role: "technician", customerId: customer.id });
  await grantAccess(p.adminCtx, workspace.id, { userId: u.user.id });
  const { browser } = await firstSignIn(p.app, p.database.db, p.clock, username, u.password);
  return { customerId: customer.id, workspaceId: workspace.id, technician: browser };
}
