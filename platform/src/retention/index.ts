// Retention: pruning past the retention period behind signed checkpoints, exports of the audit
// chain's head, and the schedule that runs them with the chain's verification.
export { exportHead } from "./heads.ts";
export { type PruneResult, prune } from "./prune.ts";
export { type RetentionDeps, RetentionSchedule } from "./schedule.ts";
export { type AuditSigner, auditPublicKey, auditSigner, type Sealer } from "./signing.ts";
