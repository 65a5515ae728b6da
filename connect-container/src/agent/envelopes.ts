// Envelopes the platform sends the gateway (data-channel configurations, commands): verified with
// the signing key pinned at enrollment, never older than the newest accepted of their kind (a
// rollback protection that survives restarts).
import { type VerifyResult, verifyEnvelope } from "@meetpoint/common";
import type { Enrollment, EnvelopeVersions, Store } from "../state/store.ts";

type Kind = keyof EnvelopeVersions;

/** Verifies `token` as an envelope of `kind` for this gateway; nothing is recorded yet. */
export function verifyFromPlatform<K extends Kind>(
  store: Pick<Store, "versions">,
  enrollment: Enrollment,
  kind: K,
  token: string,
  now: Date,
): Promise<VerifyResult<K>> {
  return verifyEnvelope(token, {
    kind,
    key: enrollment.body.signingKey,
    audience: enrollment.body.gatewayId,
    lastVersion: store.versions()[kind] ?? 0,
    now,
  });
}

/** Records `version` as the newest accepted envelope of `kind`: older ones are refused from now. */
export function acceptVersion(
  store: Pick<Store, "versions" | "saveVersions">,
  kind: Kind,
  version: number,
): void {
  store.saveVersions({ ...store.versions(), [kind]: version });
}
