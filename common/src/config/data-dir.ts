// The data directory holds the database, keys and secrets: only the service's own user may read
// or write it. Checked once at start, before anything is written.
import { mkdirSync, statSync } from "node:fs";
import { ConfigError } from "./config-error.ts";

/**
 * Makes `dir` (mode 0700) when it is missing, or refuses it when other users may read, write or
 * enter it; then sets the process umask to 077, so every file, directory and socket made later is
 * private (0600 / 0700). Throws ConfigError naming `variable` and the command that fixes it.
 */
export function privateDataDirectory(variable: string, dir: string): void {
  let mode: number;
  try {
    mode = statSync(dir).mode;
  } catch {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    mode = statSync(dir).mode;
  }
  const open = mode & 0o077;
  if (open !== 0)
    throw new ConfigError(
      variable,
      `${dir} may be read or changed by other users (mode ${(mode & 0o777).toString(8)}): the database, keys and secrets in it must be private. Fix it with: chmod -R go-rwx ${JSON.stringify(dir)}`,
    );
  process.umask(0o077);
}

/**
 * Refuses a secret file (a key) that other users may read or write, wherever it lives: the
 * data directory's check covers only the directory itself, and a key file may be elsewhere
 * (MEETPOINT_KEK_FILE) or copied in with a lax mode. A missing file passes (it is made private
 * later). Throws ConfigError naming `variable` and the command that fixes it.
 */
export function privateSecretFile(variable: string, file: string): void {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch {
    return;
  }
  if ((mode & 0o077) !== 0)
    throw new ConfigError(
      variable,
      `${file} may be read or changed by other users (mode ${(mode & 0o777).toString(8)}): it holds a secret key. Fix it with: chmod go-rwx ${JSON.stringify(file)}`,
    );
}
