// Storage: the schema and the way to open it.
export { type Database, type Db, hasSchema, inTransaction, openDatabase } from "./client.ts";
export {
  DataDirectoryInUseError,
  type DataDirectoryLock,
  lockDataDirectory,
} from "./data-dir-lock.ts";
export {
  type DatabaseReachability,
  inProcessDatabase,
  probePostgres,
} from "./reachability.ts";
export * from "./schema/index.ts";
