// Enrollment bundles: the signed file an operator imports on a gateway (the "USB stick").
import type { HttpProxy } from "@meetpoint/common";
import type { Pki } from "../pki/index.ts";

export interface EnrollmentBundle {
  /** The compact JWS, as written to the file. */
  token: string;
  version: number;
  expiresAt: Date;
  fileName: string;
}

/**
 * Signs a bundle with everything the gateway needs: the platform URL, its id and secret, the CA
 * certificates to pin and the public key that signs everything the platform sends it later.
 */
export async function issueEnrollmentBundle(
  pki: Pki,
  input: {
    gatewayId: string;
    secret: string;
    platformUrl: string;
    validMs: number;
    now: Date;
    /** The plant's HTTP proxy, for a gateway that reaches the platform only through one. */
    proxy?: HttpProxy | null;
    /** The gateway's name, site and customer as the portal shows them; the operator sees them at import. */
    names?: { gatewayName: string; siteName: string; customerName: string };
  },
): Promise<EnrollmentBundle> {
  const expiresAt = new Date(input.now.getTime() + input.validMs);
  const { token, version } = await pki.signEnvelope({
    kind: "enrollment",
    audience: input.gatewayId,
    issuedAt: input.now,
    expiresAt,
    body: {
      platformUrl: input.platformUrl,
      gatewayId: input.gatewayId,
      secret: input.secret,
      caCertificates: await pki.trustBundlePem(),
      signingKey: pki.signingJwk,
      ...(input.proxy ? { proxy: input.proxy } : {}),
      ...input.names,
    },
  });
  return { token, version, expiresAt, fileName: `meetpoint-enrollment-${input.gatewayId}.jws` };
}
