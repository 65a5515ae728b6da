// The supervisor's spec: over an https report URL it carries the certificate the platform serves
// at that start (a swapped one from the next start on); over http none.
import { expect, test } from "bun:test";
import { workspaceSpecSchema } from "@meetpoint/common";
import { tlsCertificate } from "../../../lab/idp/provider.ts";
import { startSpec } from "./start-spec.ts";
import type { Workspace } from "./workspaces.ts";

const workspace: Workspace = {
  id: "9f0c3a52-4d0e-4b8e-9a55-0c1c2b3d4e5f",
  customerId: "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b",
  templateId: "2c3d4e5f-6071-4829-9bac-1d2e3f4a5b6c",
  profileKind: "openvpn",
  profile: {
    config: "client\ndev tun\nproto udp\nremote 203.0.113.10 1194\n",
    remotes: [{ host: "203.0.113.10", port: 1194, protocol: "udp" }],
  },
  profileSecretsSealed: null,
  allowList: [],
  state: "stopped",
  createdAt: new Date("2026-12-01T00:00:00Z"),
};
// No sealed secrets in this profile: the box is never asked.
const box = {
  sealSecret: () => Promise.reject(new Error("not used")),
  unsealSecret: () => Promise.reject(new Error("not used")),
};

test("an https report URL carries the certificate served at start; http none", async () => {
  let served = tlsCertificate("platform.example").cert;
  const deps = {
    box,
    reportUrl: "https://{gateway}:8443/api/workspace-report",
    servingCertificate: () => served,
  };
  const first = await startSpec(workspace, "100.64.0.1", deps);
  expect(first.report.url).toBe("https://100.64.0.1:8443/api/workspace-report");
  expect(first.report.certificate).toBe(served);
  expect(workspaceSpecSchema.parse(first).report.certificate).toBe(served);

  served = tlsCertificate("platform.example").cert;
  expect((await startSpec(workspace, "100.64.0.1", deps)).report.certificate).toBe(served);

  const plain = await startSpec(workspace, "100.64.0.1", {
    ...deps,
    reportUrl: "http://{gateway}:8080/api/workspace-report",
  });
  expect("certificate" in plain.report).toBe(false);
  expect(workspaceSpecSchema.parse(plain).report).toEqual(plain.report);
});

test("VPN peers by name: the profile handed on names the addresses the firewall allows", async () => {
  const lookups: string[] = [];
  const lookup = async (host: string) => {
    lookups.push(host);
    return host === "vpn.customer.example" ? ["192.0.2.7", "2001:DB8::7"] : [];
  };
  const deps = { box, lookup, reportUrl: "http://{gateway}:8080/r" };
  const named: Workspace = {
    ...workspace,
    profile: {
      config:
        "client\ndev tun\nremote vpn.customer.example 1194 udp\nremote 203.0.113.10 443 tcp\n",
      remotes: [
        { host: "vpn.customer.example", port: 1194, protocol: "udp" },
        { host: "203.0.113.10", port: 443, protocol: "tcp" },
      ],
    },
  };
  const spec = await startSpec(named, "100.64.0.1", deps);
  if (spec.profile.kind !== "openvpn") throw new Error("openvpn expected");
  expect(spec.profile.config).toBe(
    "client\ndev tun\nremote 192.0.2.7 1194 udp\nremote 2001:DB8::7 1194 udp\nremote 203.0.113.10 443 tcp\n",
  );
  expect(spec.firewall).toContain("ip daddr 192.0.2.7 udp dport 1194 meta skuid 0 accept");
  expect(spec.firewall).toContain("ip6 daddr 2001:db8::7 udp dport 1194 meta skuid 0 accept");
  // Resolved once: the firewall and the profile cannot disagree.
  expect(lookups).toEqual(["vpn.customer.example"]);

  const ipsec: Workspace = {
    ...workspace,
    profileKind: "ipsec",
    profile: {
      settings: {
        remoteAddress: "vpn.customer.example",
        localId: "vendor@example.com",
        remoteId: "vpn.customer.example",
        auth: "psk",
        remoteSubnets: ["10.20.0.0/16"],
        ikeProposals: [],
        espProposals: [],
      },
    },
    profileSecretsSealed: "sealed",
  };
  const spec2 = await startSpec(ipsec, "100.64.0.1", {
    ...deps,
    box: { ...box, unsealSecret: async () => JSON.stringify({ psk: "a-long-shared-secret" }) },
  });
  if (spec2.profile.kind !== "ipsec") throw new Error("ipsec expected");
  expect(spec2.profile.swanctl).toContain("remote_addrs = 192.0.2.7,2001:DB8::7");
  expect(spec2.profile.swanctl).not.toContain("remote_addrs = vpn.customer.example");
});

test("IPsec with certificates: the spec carries the files the swanctl.conf names", async () => {
  const pem = (body: string, label = "CERTIFICATE") =>
    `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----`;
  const ipsec: Workspace = {
    ...workspace,
    profileKind: "ipsec",
    profile: {
      settings: {
        remoteAddress: "203.0.113.10",
        localId: "vendor@example.com",
        remoteId: "vpn.customer.example",
        auth: "certificate",
        certificate: pem("MIIB"),
        remoteCa: pem("MIIC"),
        remoteSubnets: ["10.20.0.0/16"],
        ikeProposals: [],
        espProposals: [],
      },
    },
    profileSecretsSealed: "sealed",
  };
  const key = pem("MIIE", "PRIVATE KEY");
  const spec = await startSpec(ipsec, "100.64.0.1", {
    box: { ...box, unsealSecret: async () => JSON.stringify({ privateKey: key }) },
    reportUrl: "http://{gateway}:8080/r",
  });
  if (spec.profile.kind !== "ipsec") throw new Error("ipsec expected");
  expect(spec.profile.files).toEqual({
    certificate: pem("MIIB"),
    privateKey: key,
    remoteCa: pem("MIIC"),
  });
  expect(workspaceSpecSchema.parse(spec).profile).toEqual(spec.profile);
});
