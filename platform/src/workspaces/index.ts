// Jump workspaces (Enterprise), the control side: templates under four eyes, the customer's
// workspace with its remote-access profile and egress allow-list, access grants; pure validators
// and renderers (OpenVPN config, swanctl.conf, nftables) for the runtime to apply.
export { isHostOrAddress, networkText, parseNetwork } from "./addresses.ts";
export { FALLBACK_HELPER_IMAGE, fileDigest, HOME_PATH } from "./backup-helper.ts";
export {
  type BackupLease,
  type BackupRunResult,
  type BackupScheduleDeps,
  pruneBackups,
  WorkspaceBackupSchedule,
} from "./backup-schedule.ts";
export {
  type BackupDeps,
  type BackupOutcome,
  backupHomeVolume,
  backupPath,
  listBackups,
  type WorkspaceBackup,
} from "./backups.ts";
export {
  databaseDisplays,
  latestRun,
  recordRunning,
  recordStopped,
  type SecretBox,
  vncPasswordLabel,
  type WorkspaceDisplay,
  type WorkspaceDisplays,
} from "./displays.ts";
export { workspaceDocker } from "./docker.ts";
export {
  containerName,
  homeVolumeName,
  networkName,
  pickSubnet,
  WORKSPACE_LABEL,
} from "./docker-objects.ts";
export {
  ALLOW_LIST_MAX,
  allowListText,
  type EgressEntry,
  type EgressModel,
  type NamedEndpoint,
  parseAllowList,
  type ResolvedEndpoint,
  renderEgressRuleset,
  resolveEndpoints,
  VNC_PORT,
  WORKSPACE_TABLE,
} from "./egress.ts";
export {
  endpointOfRun,
  endpointOrder,
  homeEndpoint,
  lastRanEndpoint,
  type WorkspaceEndpoint,
  workspaceEndpoints,
} from "./endpoints.ts";
export { grantAccess, listGrants, revokeAccess, techniciansOf } from "./grants.ts";
export {
  ESP_PROPOSALS,
  IKE_PROPOSALS,
  type IpsecSettings,
  ipsecEndpoints,
  parseIpsecProfile,
  renderSwanctlConf,
} from "./ipsec-profile.ts";
export {
  assembleOpenVpnConfig,
  type OpenVpnProfile,
  parseOpenVpnProfile,
  type VpnEndpoint,
} from "./openvpn-profile.ts";
export {
  profileEndpoints,
  profileSecretsLabel,
  type Sealer,
  type StoredIpsec,
  type StoredOpenVpn,
  setWorkspaceProfile,
} from "./profile.ts";
export {
  parseRecording,
  RECORDING_END,
  RECORDING_HEADER,
  type RecordedFrame,
  RecordingWriter,
} from "./recording.ts";
export { getRecording, listRecordings, pruneRecordings, recordingPath } from "./recordings.ts";
export {
  HEARTBEAT_MS,
  type RelayConnection,
  type RelayDeps,
  type RelaySocket,
  recordingFile,
  STALE_MS,
  type ViewerGrant,
  type ViewerHold,
  VncRelay,
} from "./relay.ts";
export {
  acceptReport,
  REPORT_MAX_BYTES,
  REPORT_OVERDUE_MS,
  reportOverdueSince,
} from "./reports.ts";
export { restoreHomeVolume } from "./restore.ts";
export { RfbError, vncAuthResponse } from "./rfb.ts";
export {
  LIVE_STATES,
  type RuntimeDeps,
  type StopReason,
  type WorkspaceRun,
  WorkspaceRuntime,
} from "./runtime.ts";
export { sessionPassedSecondFactor } from "./second-factor.ts";
export { startWorkspaceBackups } from "./start-backups.ts";
export { rfbAnswers, startSpec } from "./start-spec.ts";
export { type SweepResult, sweepWorkspaces } from "./sweep.ts";
export {
  approveProposal,
  coresText,
  DEFAULT_IDLE_MINUTES,
  DEFAULT_REPLICAS,
  getTemplate,
  IMAGE_REFERENCE,
  listTemplates,
  proposeChange,
  proposeTemplate,
  rejectProposal,
  type TemplateProposal,
  type TemplateValues,
  templateVersion,
  type WorkspaceTemplate,
} from "./templates.ts";
export { viewerCheck } from "./viewer-check.ts";
export {
  createWorkspace,
  customersWithoutWorkspace,
  deleteWorkspace,
  getWorkspace,
  listWorkspaces,
  managedWorkspace,
  setAllowList,
  settingsVersion,
  setWorkspaceTemplate,
  type Workspace,
  type WorkspaceView,
  workspaceVersion,
} from "./workspaces.ts";
