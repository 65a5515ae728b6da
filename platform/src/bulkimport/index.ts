// Bulk import of sites, gateways, machines and services from CSV: checked whole, written all or
// nothing, idempotent.
export {
  COLUMNS,
  type ImportProblem,
  type ImportRow,
  MAX_IMPORT_BYTES,
  readImportCsv,
} from "./rows.ts";
export { type ImportCounts, type ImportReport, importReportText, runImport } from "./run.ts";
