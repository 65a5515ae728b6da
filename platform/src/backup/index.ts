// Backup and restore of the database (pg_dump / the PGlite data directory); the KEK is not in it.
export {
  BackupFileError,
  createBackup,
  type DatabaseLocation,
  restoreBackup,
} from "./backup.ts";
