// Acting as a gateway in tests: check a data-channel envelope the way the agent will, and read
// the one-time certificate's serial out of a profile.
import { parseConfig, verifyEnvelope } from "@meetpoint/common";
import { x509 } from "../../src/pki/x509.ts";
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
