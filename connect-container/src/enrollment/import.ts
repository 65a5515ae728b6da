// Importing an enrollment bundle: verified whole (signature, expiry, gateway, version) before
// anything changes; a failure leaves the previous enrollment exactly as it was.
import { verifyEnrollmentBundle } from "@meetpoint/common";
import type { Enrollment, Store } from "../state/store.ts";

/** Largest bundle accepted, in bytes; real ones are about 3 KiB. */
export const MAX_BUNDLE_BYTES = 64 * 1024;

export type ImportResult =
  | { ok: true; enrollment: Enrollment; first: boolean }
  | { ok: false; reason: string };

export async function importBundle(
  store: Pick<Store, "enrollment" | "saveEnrollment">,
  text: string,
  now: Date,
): Promise<ImportResult> {
  if (Buffer.byteLength(text) > MAX_BUNDLE_BYTES)
    return { ok: false, reason: `too large: bundles are at most ${MAX_BUNDLE_BYTES} bytes` };
  const current = store.enrollment();
  const verified = await verifyEnrollmentBundle(text, {
    pinned: current
      ? {
          gatewayId: current.body.gatewayId,
          signingKey: current.body.signingKey,
          version: current.version,
        }
      : null,
    now,
  });
  if (!verified.ok) return verified;
  const enrollment: Enrollment = {
    body: verified.claims.body,
    version: verified.claims.version,
    importedAt: now.toISOString(),
  };
  store.saveEnrollment(enrollment);
  return { ok: true, enrollment, first: current === null };
}
