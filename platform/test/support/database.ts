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

export async function testDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.DATABASE_URL;
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
  const database = openDatabase({ url: url.toString(), dataDir: null });
  await database.migrate();
  return {
    ...database,
    url: url.toString(),
    async dispose() {
      await database.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
