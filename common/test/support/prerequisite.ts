// A test file's prerequisites (root, a running dockerd, a Debian package…). In CI (CI=true) a
// missing one fails the run, never a skip; on a developer's machine the file's tests skip and say
// why in one line.

/** Passes `reason` (null: nothing missing) on: throws it in CI, else warns `skipping <what>: …`. */
export function prerequisite(what: string, reason: string | null): string | null {
  if (reason && process.env.CI === "true")
    throw new Error(`${what}: prerequisite missing in CI: ${reason}`);
  if (reason) console.warn(`skipping ${what}: ${reason}`);
  return reason;
}
