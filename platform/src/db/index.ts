// Storage: the schema and the way to open it.
export { type Database, type Db, inTransaction, openDatabase } from "./client.ts";
export * from "./schema/index.ts";
