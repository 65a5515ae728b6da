// The embedded database's owner: PGlite serves one process, so the platform and the command line
// hold `<data dir>/meetpoint.pid` (the holder's pid, like PostgreSQL's postmaster.pid) while they
// use a data directory, and anyone else is refused. A file left by a process that died is taken
// over. Written by hand rather than with proper-lockfile: that one judges a lock by a refreshed
// mtime and kills its holder when the refresh lags (a long migration), where a pid and kill(0)
// say exactly what we need on one host.
import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Another live process holds the data directory. */
export class DataDirectoryInUseError extends Error {
  readonly code = "ERR_DATA_DIR_IN_USE";
  constructor(
    readonly dataDir: string,
    readonly pid: number,
    readonly holder: string,
  ) {
    super(
      `MEETPOINT_DATA_DIR ${dataDir} is in use by ${holder} (pid ${pid}): stop it first — the embedded database (PGlite) serves one process. With DATABASE_URL (PostgreSQL) commands may run beside the platform.`,
    );
    this.name = "DataDirectoryInUseError";
  }
}

export interface DataDirectoryLock {
  /** Gives the data directory up (also done when the process exits). */
  release(): void;
}

const FILE = "meetpoint.pid";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's process.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes `<dataDir>/meetpoint.pid` for this process, naming `holder` ("the Meetpoint platform",
 * "the command line") for whoever is refused. Throws DataDirectoryInUseError when a live process
 * holds it; a file of a dead process is replaced.
 */
export function lockDataDirectory(dataDir: string, holder: string): DataDirectoryLock {
  const path = join(dataDir, FILE);
  const mine = `${process.pid}\n${holder}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, mine, { flag: "wx", mode: 0o600 });
      const release = () => {
        try {
          if (readFileSync(path, "utf8") === mine) unlinkSync(path);
        } catch {
          // Gone already: nothing to give up.
        }
        process.off("exit", release);
      };
      process.on("exit", release);
      return { release };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    let text = "";
    try {
      text = readFileSync(path, "utf8");
    } catch {
      continue; // released between our attempt and the read: try again
    }
    const [pidLine, holderLine] = text.split("\n");
    const pid = Number(pidLine);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid))
      throw new DataDirectoryInUseError(dataDir, pid, holderLine || "another process");
    // Left by a process that is gone (or half-written by one that died writing it).
    try {
      unlinkSync(path);
    } catch {
      // Someone else took it over first; the next attempt sees theirs.
    }
  }
  throw new Error(`cannot take ${path}: it keeps changing`);
}
