// Importing an enrollment bundle: verified whole (signature, expiry, gateway, version) before
// anything changes; a failure leaves the previous enrollment exactly as it was. A bundle can be
// checked first without importing it, so the operator sees what it enrolls the gateway as.
import { isoTime, peekEnrollmentBundle, verifyEnrollmentBundle } from "@meetpoint/common";
import type { Enrollment, Store } from "../state/store.ts";

/** Largest bundle accepted, in bytes; real ones are about 3 KiB. */
export const MAX_BUNDLE_BYTES = 64 * 1024;

export type ImportResult =
  | { ok: true; enrollment: Enrollment; first: boolean }
  | { ok: false; reason: string; alreadyInUse?: boolean };

/** Verifies a bundle against the current enrollment, changing nothing; the enrollment it would make. */
export async function checkBundle(
  store: Pick<Store, "enrollment">,
  text: string,
  now: Date,
): Promise<ImportResult> {
  if (Buffer.byteLength(text) > MAX_BUNDLE_BYTES)
    return { ok: false, reason: `too large: bundles are at most ${MAX_BUNDLE_BYTES} bytes` };
  const current = store.enrollment();
  // The bundle in use, imported again, is not a "rollback": say what it is.
  const claimed = peekEnrollmentBundle(text);
  if (
    current &&
    claimed?.gatewayId === current.body.gatewayId &&
    claimed.version === current.version
  )
    return {
      ok: false,
      alreadyInUse: true,
      reason: `this is the bundle already in use (version ${current.version}, imported ${isoTime(current.importedAt)}): nothing to change`,
    };
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
  return { ok: true, enrollment, first: current === null };
}

export async function importBundle(
  store: Pick<Store, "enrollment" | "saveEnrollment">,
  text: string,
  now: Date,
): Promise<ImportResult> {
  const checked = await checkBundle(store, text, now);
  if (checked.ok) store.saveEnrollment(checked.enrollment);
  return checked;
}
