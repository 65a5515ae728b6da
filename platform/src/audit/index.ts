// The audit log: append-only, hash-chained, written in the transaction of the change it records.
export { AUDIT_ACTION_NAMES, AUDIT_ACTIONS, type AuditAction } from "./actions.ts";
export { canonicalJson, entryHash, GENESIS_HASH } from "./chain.ts";
export {
  type Checkpoint,
  type CheckpointClaims,
  checkpointClaims,
  listCheckpoints,
  verifySigned,
} from "./checkpoints.ts";
export { advanceCursor, entriesAfter, headSeq, LEASE_MS, leaseCursor } from "./cursors.ts";
export { type ExportFormat, exportAudit } from "./export.ts";
export {
  DEFAULT_FAILURE_POLICY,
  type FailureAudit,
  FailureGuard,
  type FailurePolicy,
  type FailureSummary,
  FailureWindows,
} from "./failure-guard.ts";
export {
  checkExportedHeads,
  type ExportedHead,
  type HeadStatement,
  parseHeadFile,
} from "./heads.ts";
export {
  type Actor,
  type AuditEntry,
  type AuditEvent,
  allEntries,
  CHAIN_LOCK,
  intactReport,
  recordAudit,
  recordAuditAlone,
  SYSTEM_ACTOR,
  type VerifyResult,
  verifyAuditChain,
} from "./log.ts";
export { targetKey, targetNames } from "./names.ts";
export {
  type AuditFilter,
  lastChange,
  listAudit,
  parseAuditFilter,
  scopedEntries,
} from "./query.ts";
