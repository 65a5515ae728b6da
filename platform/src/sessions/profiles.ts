// One-time client profiles: a fresh certificate for one session, in an .ovpn rendered from the
// fixed template (nothing a person typed is ever written into it).
import { renderClientProfile } from "@meetpoint/common";
import { type Pki, SERVER_NAME } from "../pki/index.ts";
import type { ServerInstance } from "./data-plane.ts";

export type ProfilePki = Pick<Pki, "issueClientCertificate" | "trustBundlePem" | "tlsCryptKey">;

/** After the session's end, its certificate lives this much longer (the platform cuts at the end). */
const END_MARGIN_MS = 60_000;

/**
 * A one-time certificate for session `sessionId` and its profile for OpenVPN server `instance`:
 * it opens its connection until `firstUseBy` and lives until the session's end (`endsAt`), so the
 * tunnel survives every TLS renegotiation while a spent or late certificate opens nothing new.
 */
export async function oneTimeProfile(
  pki: ProfilePki,
  vpnHost: string,
  session: { kind: "gateway" | "technician"; id: string; firstUseBy: Date; endsAt: Date },
  instance: ServerInstance,
  routes: string[],
  /** An `http-proxy host port` line, for a technician behind a corporate proxy (TCP servers only). */
  httpProxy: { host: string; port: number } | null = null,
) {
  const credentials = await pki.issueClientCertificate(session.kind, session.id, {
    firstUseBy: session.firstUseBy,
    notAfter: new Date(session.endsAt.getTime() + END_MARGIN_MS),
  });
  const profile = renderClientProfile({
    remotes: [{ host: vpnHost, port: instance.port, protocol: instance.protocol }],
    serverName: SERVER_NAME,
    caPem: await pki.trustBundlePem(),
    certificatePem: credentials.certificatePem,
    privateKeyPem: credentials.privateKeyPem,
    tlsCryptKey: pki.tlsCryptKey,
    routes,
    httpProxy,
  });
  return { credentials, profile };
}

/**
 * Where the OpenVPN server `index` of platform instance `instanceId` is reached, and its share of
 * the tunnel pool (another instance's, from the instance registry); null for this instance's own.
 */
export type ServerOf = (
  instanceId: string,
  index: number,
) => Promise<{ host: string; instance: ServerInstance } | null>;

/**
 * The server a session of the channel on (`instanceId`, `index`) connects to, with its host:
 * another instance's when it holds the channel (both tunnels must meet in one kernel), else this
 * instance's server `index` at `vpn.host`.
 */
export async function serverFor(
  deps: { instances: ServerInstance[]; vpn: { host: string; serverOf?: ServerOf } },
  instanceId: string | null,
  index: number,
): Promise<{ host: string; instance: ServerInstance }> {
  const elsewhere = instanceId ? await deps.vpn.serverOf?.(instanceId, index) : null;
  return elsewhere ?? { host: deps.vpn.host, instance: instanceOf(deps.instances, index) };
}

/** The OpenVPN server with this index, or an error naming it. */
export function instanceOf(instances: ServerInstance[], index: number): ServerInstance {
  const instance = instances.find((i) => i.index === index);
  if (!instance) throw new Error(`OpenVPN server ${index} is not configured`);
  return instance;
}
