// Wiring of the workspace home backups for startPlatform: the Docker endpoints, the directory, the
// schedule ticking every minute under its lease. Kept here so platform.ts stays a list of parts.
import { resolve } from "node:path";
import type { Config } from "../config.ts";
import type { Db } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import { type BackupLease, WorkspaceBackupSchedule } from "./backup-schedule.ts";
import type { BackupDeps } from "./backups.ts";
import { type WorkspaceEndpoint, workspaceEndpoints } from "./endpoints.ts";

/**
 * Starts the backup schedule (first check at once, then every minute). `deps` is null when the
 * workspace Docker endpoints cannot be set up (its TLS files unreadable): logged, and the portal
 * offers no backups. stop() ends the timer (a run in progress finishes).
 */
export function startWorkspaceBackups(parts: {
  config: Config;
  db: Db;
  clock: Clock;
  leases: BackupLease;
}): { deps: BackupDeps | null; stop(): void } {
  const { config, db, clock, leases } = parts;
  let endpoints: WorkspaceEndpoint[];
  try {
    endpoints = workspaceEndpoints(config.workspaceDocker);
  } catch (error) {
    console.error(`workspace backups are off: ${(error as Error).message}`);
    return { deps: null, stop() {} };
  }
  const settings = config.operations.workspaceBackups;
  const deps: BackupDeps = {
    db,
    clock,
    endpoints,
    dir: resolve(settings.dir ?? resolve(config.dataDir, "workspace-backups")),
    maxBytes: settings.maxBytes,
  };
  const schedule = new WorkspaceBackupSchedule({
    ...deps,
    leases,
    everyMs: settings.everyMs,
    keep: settings.keep,
    log: (line) => console.error(line),
  });
  const tick = () =>
    void schedule.tick().then(
      (result) => {
        if (result)
          console.log(
            `Workspace backups: ${result.created} archived, ${result.skipped} without a home volume, ${result.failed} failed, ${result.pruned} old ones deleted.`,
          );
      },
      (error) => console.error("workspace backups:", error),
    );
  tick();
  const timer = setInterval(tick, 60_000);
  return { deps, stop: () => clearInterval(timer) };
}
