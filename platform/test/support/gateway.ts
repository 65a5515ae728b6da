// Acting as a gateway in tests: check a data-channel envelope the way the agent will, and read
// the one-time certificate's serial out of a profile.
import { parseConfig, verifyEnvelope } from "@meetpoint/common";
import { x509 } from "../../src/pki/x509.ts";
import type { Scene } from "./arrange.ts";
import type { TestPlatform } from "./platform.ts";

/** The OpenVPN profile inside a data-channel envelope for `gatewayId`; throws why it is refused. */
export async function dataChannelProfile(
  p: TestPlatform,
  gatewayId: string,
  envelope: string,
): Promise<string> {
  const verified = await verifyEnvelope(envelope, {
    kind: "data-channel",
    key: p.pki.signingJwk,
    audience: gatewayId,
    lastVersion: 0,
    now: p.clock.now(),
  });
  if (!verified.ok) throw new Error(verified.reason);
  return verified.claims.body.profile;
}

/** The serial of the client certificate in a profile, as OpenVPN reports it at connect time. */
export function serialOf(profile: string): string {
  const cert = parseConfig(profile).blocks.find((b) => b.tag === "cert")?.content ?? "";
  return new x509.X509Certificate(cert).serialNumber;
}

/** The client certificate in a profile. */
export function certificateOf(profile: string): InstanceType<typeof x509.X509Certificate> {
  const cert = parseConfig(profile).blocks.find((b) => b.tag === "cert")?.content ?? "";
  return new x509.X509Certificate(cert);
}

/**
 * A request to the gateway API (`/api/gateway/v1<path>`) as the gateway `gatewayId` with its
 * secret: POST with `body` as JSON, or GET when `body` is undefined.
 */
export function gatewayCall(
  p: Pick<TestPlatform, "app">,
  gateway: { gatewayId: string; secret: string },
  path: string,
  body?: unknown,
): Promise<Response> {
  return Promise.resolve(
    p.app.request(`https://localhost/api/gateway/v1${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: {
        authorization: `Bearer ${gateway.gatewayId}.${gateway.secret}`,
        "content-type": "application/json",
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
}

/**
 * Live grants on the data plane for `scene`, as in the field: the gateway's data channel (the
 * operator's Connect) and a technician's session (`reason`), each admitted by the connection
 * decision under the OpenVPN connection id `nextConnection()` gives. Throws when one is refused.
 */
export async function admitChannelAndSession(
  p: TestPlatform,
  scene: Scene,
  reason: string,
  nextConnection: () => string,
): Promise<{ channelProfile: string; sessionProfile: string }> {
  const response = await gatewayCall(
    p,
    { gatewayId: scene.gatewayId, secret: scene.gatewaySecret },
    "/data-channel",
    {},
  );
  const { envelope } = (await response.json()) as { envelope: string };
  const channelProfile = await dataChannelProfile(p, scene.gatewayId, envelope);
  const admit = async (profile: string, what: string) => {
    const decision = await p.access.connections.decide(nextConnection(), serialOf(profile));
    if (!decision.allow) throw new Error(`${what} refused: ${JSON.stringify(decision)}`);
  };
  await admit(channelProfile, "the data channel");
  const { profile: sessionProfile } = await p.access.remoteSessions.request(
    scene.technician,
    scene.machineId,
    { reason },
  );
  await admit(sessionProfile, "the technician's session");
  return { channelProfile, sessionProfile };
}
