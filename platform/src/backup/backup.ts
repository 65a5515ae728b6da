// Backups of the platform's database, for both engines: PostgreSQL with pg_dump / pg_restore
// (custom format, every table including the audit log and its checkpoints), embedded PGlite as a
// tar.gz of its data directory (PGlite's dumpDataDir / loadDataDir; the platform must be stopped,
// PGlite serves one process). Neither holds the KEK: without the same KEK a restored platform
// cannot open its CA or any sealed secret (identity-provider secrets, webhook keys, the audit
// signing key) — keep the KEK apart from the backups, and safe.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { run } from "@meetpoint/common";
import { DomainError, ValidationError } from "../shared/index.ts";

/** The file named for a restore is missing or is not a backup this engine can load. */
export class BackupFileError extends DomainError {
  readonly code = "ERR_BACKUP_FILE";
  readonly status = 400;
  constructor(file: string, problem: string, options?: ErrorOptions) {
    super(`${file}: ${problem}`, options);
    this.name = "BackupFileError";
  }
}

/** Where the database is: a PostgreSQL URL, or PGlite in `<dataDir>/pglite`. */
export type DatabaseLocation = { url: string } | { dataDir: string };

/** pg_dump and pg_restore may take this long (milliseconds): one hour. */
const DEADLINE_MS = 3_600_000;

function pgliteDir(dataDir: string): string {
  return join(dataDir, "pglite");
}

/** Writes a backup of the database to `out` (must not exist). Returns its size in bytes. */
export async function createBackup(from: DatabaseLocation, out: string): Promise<number> {
  if (existsSync(out))
    throw new ValidationError("--out", `${out} exists already: choose a new file`);
  if ("url" in from) {
    const result = await run(
      [
        "pg_dump",
        "--format=custom",
        "--no-owner",
        "--no-privileges",
        `--file=${out}`,
        `--dbname=${from.url}`,
      ],
      { timeoutMs: DEADLINE_MS },
    );
    if (result.code !== 0)
      throw new Error(`pg_dump failed (${result.code}): ${result.stderr.trim()}`);
  } else {
    const dir = pgliteDir(from.dataDir);
    if (!existsSync(join(dir, "PG_VERSION")))
      throw new ValidationError("MEETPOINT_DATA_DIR", `no PGlite database in ${dir}`);
    const db = new PGlite({ dataDir: dir, extensions: { pg_trgm } });
    try {
      // dumpDataDir does not wait for the database to be up: a first query does.
      await db.query("select 1");
      const archive = await db.dumpDataDir("gzip");
      writeFileSync(out, new Uint8Array(await archive.arrayBuffer()), { flag: "wx", mode: 0o600 });
    } finally {
      await db.close();
    }
  }
  return readFileSync(out).length;
}

/**
 * Why `archive` is not a PGlite data directory made by dumpDataDir("gzip"), or null when it is
 * one: a gzip'd tar with PG_VERSION at its top. Checked before PGlite sees it, which reports a bad
 * archive late and partly as an unhandled rejection.
 */
export function pgliteArchiveProblem(archive: Uint8Array): string | null {
  let tar: Buffer;
  try {
    tar = gunzipSync(archive);
  } catch {
    return "not gzip";
  }
  for (let at = 0; at + 512 <= tar.length; ) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    if (header.subarray(257, 262).toString("latin1") !== "ustar") return "not a tar archive";
    const name = header.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
    if (name === "/PG_VERSION" || name === "PG_VERSION" || name === "./PG_VERSION") return null;
    const size = Number.parseInt(header.subarray(124, 136).toString("latin1").trim() || "0", 8);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return "no PG_VERSION in it";
}

/**
 * Restores a backup into an empty database: a PostgreSQL database without tables, or a data
 * directory without a PGlite database. Refuses to overwrite anything.
 */
export async function restoreBackup(to: DatabaseLocation, file: string): Promise<void> {
  if (!existsSync(file)) throw new BackupFileError(file, "no such file");
  if ("url" in to) {
    const tables = await run([
      "psql",
      "--no-psqlrc",
      "-tA",
      `--dbname=${to.url}`,
      "-c",
      "select count(*) from pg_tables where schemaname = 'public'",
    ]);
    if (tables.code !== 0) throw new Error(`cannot reach the database: ${tables.stderr.trim()}`);
    if (Number(tables.stdout.trim()) > 0)
      throw new ValidationError(
        "DATABASE_URL",
        "the database is not empty: restore into a new, empty database",
      );
    const result = await run(
      [
        "pg_restore",
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        `--dbname=${to.url}`,
        file,
      ],
      { timeoutMs: DEADLINE_MS },
    );
    if (result.code !== 0)
      throw new Error(`pg_restore failed (${result.code}): ${result.stderr.trim()}`);
    return;
  }
  const dir = pgliteDir(to.dataDir);
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new ValidationError(
      "MEETPOINT_DATA_DIR",
      `${dir} is not empty: restore into a new data directory`,
    );
  const archive = readFileSync(file);
  const problem = pgliteArchiveProblem(archive);
  if (problem)
    throw new BackupFileError(
      file,
      `not a backup of the embedded database (a tar.gz made by "backup create"): ${problem}`,
    );
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    // create() waits for the load itself, so a bad archive fails here, not unhandled later.
    const db = await PGlite.create({
      dataDir: dir,
      extensions: { pg_trgm },
      loadDataDir: new Blob([archive]),
    });
    try {
      await db.query("select 1");
    } finally {
      await db.close().catch(() => {});
    }
  } catch (cause) {
    // Nothing half-restored stays behind: the directory was empty (or missing) before.
    rmSync(dir, { recursive: true, force: true });
    throw new BackupFileError(
      file,
      `not a backup of the embedded database (a tar.gz made by "backup create"): ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}
