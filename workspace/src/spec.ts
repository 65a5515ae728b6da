// Where the workspace supervisor finds its spec (common's workspaceSpecSchema): its stdin when
// MEETPOINT_WORKSPACE_SPEC_STDIN=1 (how the platform's runtime hands it over: attached before the
// start, so the secrets are in no `docker inspect` and no `docker exec` env), else the env
// variable MEETPOINT_WORKSPACE_SPEC, else the file MEETPOINT_WORKSPACE_SPEC_FILE (default
// /run/meetpoint/spec.json). Read once at start; the variable is then removed from the env so
// that no child process inherits the secrets.
import { readFileSync } from "node:fs";
import { type WorkspaceSpec, workspaceSpecSchema } from "@meetpoint/common";

export const SPEC_ENV = "MEETPOINT_WORKSPACE_SPEC";
export const SPEC_FILE_ENV = "MEETPOINT_WORKSPACE_SPEC_FILE";
export const DEFAULT_SPEC_FILE = "/run/meetpoint/spec.json";
export const SPEC_STDIN_ENV = "MEETPOINT_WORKSPACE_SPEC_STDIN";

/** Seconds between reports when nothing changes; MEETPOINT_WORKSPACE_REPORT_SECONDS. */
export const REPORT_SECONDS_ENV = "MEETPOINT_WORKSPACE_REPORT_SECONDS";
/** The default of REPORT_SECONDS_ENV: 30 seconds. */
export const DEFAULT_REPORT_SECONDS = 30;

export interface SupervisorConfig {
  spec: WorkspaceSpec;
  /** Milliseconds between unchanged reports. */
  reportIntervalMs: number;
}

/**
 * Parses the spec: `stdinText` when given (read by the caller when SPEC_STDIN_ENV is "1"), else
 * from `env` (the variable, else the file it names or the default file). Throws an Error naming
 * the source and the invalid fields — never their values, which may be secrets.
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  readFile: (path: string) => string = (path) => readFileSync(path, "utf8"),
  stdinText?: string,
): SupervisorConfig {
  const path = env[SPEC_FILE_ENV] ?? DEFAULT_SPEC_FILE;
  const source = stdinText !== undefined ? "stdin" : env[SPEC_ENV] !== undefined ? SPEC_ENV : path;
  let raw: string;
  try {
    raw = stdinText ?? env[SPEC_ENV] ?? readFile(path);
  } catch (cause) {
    throw new Error(`workspace spec: neither ${SPEC_ENV} nor a readable ${path}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error(`workspace spec (${source}): not JSON`);
  }
  const parsed = workspaceSpecSchema.safeParse(json);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => issue.path.join(".") || "(root)");
    throw new Error(`workspace spec (${source}): invalid ${[...new Set(fields)].join(", ")}`);
  }
  const seconds = Number(env[REPORT_SECONDS_ENV] ?? DEFAULT_REPORT_SECONDS);
  if (!Number.isFinite(seconds) || seconds < 1)
    throw new Error(
      `${REPORT_SECONDS_ENV}: a number of seconds ≥ 1, got "${env[REPORT_SECONDS_ENV]}"`,
    );
  return { spec: parsed.data, reportIntervalMs: seconds * 1000 };
}
