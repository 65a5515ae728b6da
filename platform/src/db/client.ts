// Opens the database: PostgreSQL through postgres.js when a URL is given, else embedded PGlite.
import { chmodSync, lstatSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";

import { sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { writableTarget } from "./postgres-url.ts";
import * as schema from "./schema/index.ts";

export type Schema = typeof schema;
/** A database handle or a transaction: both run the same queries. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export interface Database {
  db: Db;
  driver: "pglite" | "postgres";
  /** Applies the committed migrations; safe to run again. */
  migrate(): Promise<void>;
  /**
   * LISTEN on `channel` (a dedicated connection on PostgreSQL, re-established by postgres.js after
   * a loss); `onPayload` gets each NOTIFY's payload. Resolves to the unsubscribe function.
   */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

const MIGRATIONS = fileURLToPath(new URL("../../drizzle", import.meta.url));

/**
 * PostgreSQL at `url`, or PGlite stored in `dataDir` (in memory when dataDir is null).
 * Nothing is connected until the first query.
 */
export function openDatabase(options: { url: string | null; dataDir: string | null }): Database {
  if (options.url) {
    // A server that does not answer within 10 s counts as unreachable (503, fail closed),
    // rather than holding requests for postgres.js's default 30 s.
    // A multi-host URL (primary,standby) follows a promotion: see postgres-url.ts.
    const client = postgres(writableTarget(options.url), {
      max: 10,
      connect_timeout: 10,
      onnotice: () => {},
    });
    const db = drizzlePostgres(client, { schema }) as unknown as Db;
    return {
      db,
      driver: "postgres",
      migrate: () => migratePostgres(db as never, { migrationsFolder: MIGRATIONS }),
      async listen(channel, onPayload) {
        const { unlisten } = await client.listen(channel, onPayload);
        return unlisten;
      },
      close: () => client.end({ timeout: 5 }),
    };
  }
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const client = new PGlite({
    ...(options.dataDir ? { dataDir: `${options.dataDir}/pglite` } : {}),
    extensions: { pg_trgm },
  });

  const db = drizzlePglite(client, { schema }) as unknown as Db;
  const dir = options.dataDir ? `${options.dataDir}/pglite` : null;
  return {
    db,
    driver: "pglite",
    migrate: async () => {
      await migratePglite(db as never, { migrationsFolder: MIGRATIONS });
      // PGlite's file system sets the modes PostgreSQL asks for inside its WASM world (0666,
      // 0755): on disk the database is made private, like everything in the data directory.
      if (dir) privateTree(dir);
    },
    async listen(channel, onPayload) {
      const unsubscribe = await client.listen(channel, onPayload);
      return unsubscribe;
    },
    close: () => client.close(),
  };
}

/** Whether the database holds the platform's tables (false: a new, empty database). */
export async function hasSchema(db: Db): Promise<boolean> {
  const result = await db.execute(
    sql`select to_regclass('public.audit_entries') is not null as present`,
  );
  // postgres.js answers the rows, PGlite an object holding them.
  const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as {
    present: boolean;
  }[];
  return rows[0]?.present === true;
}

/** Runs `work` in one transaction: everything it writes commits together or not at all. */
export function inTransaction<T>(db: Db, work: (tx: Db) => Promise<T>): Promise<T> {
  return db.transaction((tx) => work(tx as unknown as Db));
}

/** chmod go-rwx on `path` and everything below it (symbolic links left alone). */
function privateTree(path: string): void {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) return;
  if ((stat.mode & 0o077) !== 0) chmodSync(path, stat.mode & 0o700);
  if (stat.isDirectory()) for (const name of readdirSync(path)) privateTree(join(path, name));
}
