// A fresh, migrated database per test file: PGlite in memory, or a new PostgreSQL database when
// DATABASE_URL is set (CI runs the suite both ways).
import postgres from "postgres";
import { type Database, openDatabase } from "../../src/db/index.ts";

export interface TestDatabase extends Database {
  /** Connection URL of this database (PostgreSQL), or null for PGlite. */
  url: string | null;
  /** Closes and, for PostgreSQL, drops the database. */
  dispose(): Promise<void>;
}

/**
 * `server`: a PostgreSQL server to use instead of DATABASE_URL's; `route`: rewrites the new
 * database's URL (host and port) for the platform — e.g. through a relay a test can cut.
 */
export async function testDatabase(
  options: { server?: string; route?: (url: URL) => void } = {},
): Promise<TestDatabase> {
  const serverUrl = options.server ?? process.env.DATABASE_URL;
  if (!serverUrl) {
    const database = openDatabase({ url: null, dataDir: null });
    await database.migrate();
    return { ...database, url: null, dispose: () => database.close() };
  }
  const name = `meetpoint_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  options.route?.(url);
  const database = openDatabase({ url: url.toString(), dataDir: null });
  await database.migrate();
  return {
    ...database,
    url: url.toString(),
    async dispose() {
      await database.close();
      // An autovacuum worker on the fresh database runs as a superuser, whom FORCE may not
      // terminate ("must be a member of the role whose process is being terminated"): it
      // finishes within moments, so try again.
      for (let attempt = 1; ; attempt++) {
        try {
          await admin.unsafe(`drop database if exists ${name} with (force)`);
          break;
        } catch (error) {
          const code = (error as { code?: string }).code;
          if (attempt >= 25 || (code !== "42501" && code !== "55006")) throw error;
          await Bun.sleep(200);
        }
      }
      await admin.end();
    },
  };
}
