// What a workspace's supervisor is handed at each start (common's WorkspaceSpec), from the stored
// profile and allow-list; and the check that its desktop answers.
import { randomBytes } from "node:crypto";
import { lookup as dnsLookup } from "node:dns/promises";
import { createConnection, isIP } from "node:net";
import type { WorkspaceSpec } from "@meetpoint/common";
import { renderEgressRuleset, resolveEndpoints } from "./egress.ts";
import { type IpsecSettings, renderSwanctlConf } from "./ipsec-profile.ts";
import { assembleOpenVpnConfig, pinRemoteAddresses } from "./openvpn-profile.ts";
import {
  profileEndpoints,
  profileSecretsLabel,
  type StoredIpsec,
  type StoredOpenVpn,
} from "./profile.ts";
import type { RuntimeDeps } from "./runtime.ts";
import type { Workspace } from "./workspaces.ts";

/**
 * The supervisor's spec for one start: a fresh VNC password (8 characters, VncAuth's limit) and
 * report token (32 random bytes, base64url), the stored profile with its secrets unsealed, and the
 * egress ruleset (VPN peers resolved now — the profile handed on names those addresses, not the
 * names, so the workspace needs no DNS for its VPN —, the allow-list, VNC only from `gateway` — this host on
 * the workspace network — and the report URL's address); for an https report URL, the certificate
 * the platform serves now (RuntimeDeps.servingCertificate), which the supervisor pins. Throws
 * naming a VPN peer that resolves to nothing usable or to a refused address.
 */
export async function startSpec(
  workspace: Workspace,
  gateway: string,
  deps: Pick<RuntimeDeps, "box" | "lookup" | "reportUrl" | "servingCertificate">,
): Promise<WorkspaceSpec> {
  const lookup =
    deps.lookup ??
    (async (host: string) => (await dnsLookup(host, { all: true })).map((a) => a.address));
  // Each VPN peer's name resolved once: the firewall allows exactly these addresses, and the
  // profile handed on names them instead of the name (the workspace may have no DNS at all).
  const endpoints = profileEndpoints(workspace);
  const names = new Map<string, string[]>();
  for (const { host } of endpoints)
    if (!isIP(host) && !names.has(host)) names.set(host, await lookup(host));
  const vpnEndpoints = await resolveEndpoints(endpoints, async (host) => names.get(host) ?? []);
  const pinned = new Map(
    [...names].map(([host, addresses]) => [
      host,
      addresses.filter((a) => vpnEndpoints.some((e) => e.address === a.toLowerCase())),
    ]),
  );
  const secrets: Record<string, string> = workspace.profileSecretsSealed
    ? JSON.parse(
        await deps.box.unsealSecret(
          profileSecretsLabel(workspace.id),
          workspace.profileSecretsSealed,
        ),
      )
    : {};
  const profile: WorkspaceSpec["profile"] =
    workspace.profileKind === "openvpn"
      ? {
          kind: "openvpn",
          config: pinRemoteAddresses(
            assembleOpenVpnConfig((workspace.profile as unknown as StoredOpenVpn).config, secrets),
            pinned,
          ),
        }
      : ipsecProfile(
          (workspace.profile as unknown as StoredIpsec).settings,
          secrets,
          pinned.get((workspace.profile as unknown as StoredIpsec).settings.remoteAddress),
        );
  const url = new URL(deps.reportUrl.replace("{gateway}", gateway));
  const reportHost = url.hostname.replace(/^\[|\]$/g, "");
  const reportAddress = isIP(reportHost) ? reportHost : ((await lookup(reportHost))[0] ?? "");
  const port = Number(url.port) || (url.protocol === "https:" ? 443 : 80);
  const certificate = url.protocol === "https:" ? deps.servingCertificate?.() : undefined;
  const firewall = renderEgressRuleset({
    uplink: "eth0",
    tunnel: workspace.profileKind === "ipsec" ? "ipsec" : "openvpn",
    vpnEndpoints,
    allowList: workspace.allowList,
    relayAddresses: [gateway],
    report: { address: reportAddress, port },
  });
  return {
    // VncAuth uses 8 characters; 6 random bytes in base64url are exactly 8.
    vnc: { password: randomBytes(6).toString("base64url") },
    profile,
    firewall,
    report: {
      url: url.toString(),
      token: randomBytes(32).toString("base64url"),
      ...(certificate ? { certificate } : {}),
    },
  };
}

/** The IPsec part of the spec: the swanctl.conf and, for certificate auth, the files it names. */
function ipsecProfile(
  settings: IpsecSettings,
  secrets: Record<string, string>,
  remoteAddresses: string[] | undefined,
): WorkspaceSpec["profile"] {
  const swanctl = renderSwanctlConf(settings, secrets, remoteAddresses);
  if (settings.auth !== "certificate") return { kind: "ipsec", swanctl };
  const { certificate, remoteCa } = settings;
  const privateKey = secrets.privateKey;
  if (!certificate || !remoteCa || !privateKey)
    throw new Error("the IPsec profile's certificate, private key or remote CA is missing");
  return { kind: "ipsec", swanctl, files: { certificate, privateKey, remoteCa } };
}

/** Whether host:port answers with an RFB version ("RFB 003.008\n") within `ms`. */
export function rfbAnswers(host: string, port: number, ms = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    let data = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(ms, () => done(false));
    socket.on("data", (chunk) => {
      data += chunk.toString("latin1");
      if (data.length >= 12) done(/^RFB \d{3}\.\d{3}\n$/.test(data.slice(0, 12)));
    });
    socket.on("error", () => done(false));
    socket.on("close", () => done(false));
  });
}
