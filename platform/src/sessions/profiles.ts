// One-time client profiles: a fresh certificate for one session, in an .ovpn rendered from the
// fixed template (nothing a person typed is ever written into it).
import { renderClientProfile } from "@meetpoint/common";
import { type Pki, SERVER_NAME } from "../pki/index.ts";
import type { ServerInstance } from "./data-plane.ts";

export type ProfilePki = Pick<Pki, "issueClientCertificate" | "trustBundlePem" | "tlsCryptKey">;

/** A one-time certificate for session `sessionId` and its profile for OpenVPN server `instance`. */
export async function oneTimeProfile(
  pki: ProfilePki,
  vpnHost: string,
  kind: "gateway" | "technician",
  sessionId: string,
  instance: ServerInstance,
  routes: string[],
) {
  const credentials = await pki.issueClientCertificate(kind, sessionId);
  const profile = renderClientProfile({
    remotes: [{ host: vpnHost, port: instance.port, protocol: instance.protocol }],
    serverName: SERVER_NAME,
    caPem: await pki.trustBundlePem(),
    certificatePem: credentials.certificatePem,
    privateKeyPem: credentials.privateKeyPem,
    tlsCryptKey: pki.tlsCryptKey,
    routes,
  });
  return { credentials, profile };
}

/** The OpenVPN server with this index, or an error naming it. */
export function instanceOf(instances: ServerInstance[], index: number): ServerInstance {
  const instance = instances.find((i) => i.index === index);
  if (!instance) throw new Error(`OpenVPN server ${index} is not configured`);
  return instance;
}
