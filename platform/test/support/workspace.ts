// A jump workspace with every part filled, for pages that show one: an approved template with a
// pending change, the scene's customer's workspace with an OpenVPN profile, allow-list and a grant.
import type { Context } from "../../src/access/index.ts";
import {
  approveProposal,
  createWorkspace,
  grantAccess,
  proposeChange,
  proposeTemplate,
  setAllowList,
  setWorkspaceProfile,
} from "../../src/workspaces/index.ts";
import type { Scene } from "./arrange.ts";
import type { TestPlatform } from "./platform.ts";

/** `approverId` is a second platform admin's user id (the approval needs another admin). */
export async function arrangeWorkspace(p: TestPlatform, scene: Scene, approverId: string) {
  const approver: Context = {
    ...p.adminCtx,
    caller: {
      principal: {
        userId: approverId,
        username: "approver",
        displayName: "Approver",
        grants: [{ role: "platform_admin", customerId: null }],
      },
      actor: { id: approverId, name: "approver", ip: null },
    },
  };
  const values = {
    image: `registry.workspaces.acme-maschinenbau.example:5000/meetpoint/engineering-desktop@sha256:${"0123456789abcdef".repeat(4)}`,
    cpu: "1.5",
    memoryMib: "2048",
    pidsLimit: "512",
    idleTimeoutMinutes: "30",
    replicas: "2",
  };
  const { template, proposal } = await proposeTemplate(p.adminCtx, {
    name: "Engineering desktop with the vendor's commissioning tools",
    ...values,
  });
  await approveProposal(approver, proposal.id);
  await proposeChange(p.adminCtx, template.id, { ...values, memoryMib: "4096" });
  const workspace = await createWorkspace(p.adminCtx, scene.customerId, {
    templateId: template.id,
  });
  await setWorkspaceProfile(p.adminCtx, p.pki, workspace.id, {
    kind: "openvpn",
    profile: [
      "client",
      "dev tun",
      "proto udp",
      "remote ssl-vpn.customer-with-a-rather-long-domain-name.example 1194",
      "remote 203.0.113.10 443 tcp",
      'verify-x509-name "ssl-vpn.customer-with-a-rather-long-domain-name.example" name',
      "<key>",
      "-----BEGIN PRIVATE KEY-----",
      "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7aVeryLongLineOfBase64WithoutBreaks",
      "-----END PRIVATE KEY-----",
      "</key>",
    ].join("\n"),
  });
  await setAllowList(p.adminCtx, workspace.id, {
    allowList: "10.20.0.53 udp 53\n2001:db8:20:ffff::/64 tcp 443\n10.20.0.0/16 icmp",
  });
  await grantAccess(p.adminCtx, workspace.id, {
    userId: scene.technician.caller.principal.userId,
  });
  return { templateId: template.id, workspaceId: workspace.id };
}
