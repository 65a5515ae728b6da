// The contract and code shared by the platform and the connect gateway.

export { ConfigError, configOrExit } from "./config/config-error.ts";
export { privateDataDirectory, privateSecretFile } from "./config/data-dir.ts";
export {
  AGENT_CAPABILITIES,
  AGENT_STATES,
  type AgentState,
  apiErrorSchema,
  commandsResponseSchema,
  type DataChannelRequest,
  DECISION_PLACES,
  dataChannelRequestSchema,
  dataChannelResponseSchema,
  disconnectRequestSchema,
  disconnectResponseSchema,
  type GatewayRemoteSession,
  type GatewayWindow,
  type GatewayWindowsResponse,
  gatewayRemoteSessionSchema,
  gatewayWindowSchema,
  gatewayWindowsResponseSchema,
  type HeartbeatReport,
  type HeartbeatRequest,
  type HeartbeatResponse,
  heartbeatRequestSchema,
  heartbeatResponseSchema,
  type MaintenanceSession,
  type MaintenanceWindowOccurrence,
  type ModbusEvidence,
  maintenanceSessionSchema,
  maintenanceWindowSchema,
  modbusEvidenceSchema,
  type PendingRequest,
  pendingRequestSchema,
  type RequestDecision,
  type RequestDecisionResponse,
  requestDecisionResponseSchema,
  requestDecisionSchema,
  SERVICE_MODES,
  type ServiceMode,
  SSH_EVENT_KINDS,
  type SshEvent,
  sessionServiceSchema,
  sshEventSchema,
  type WindowRequest,
  windowRequestSchema,
} from "./control/contract.ts";
export {
  commandBodySchema,
  dataChannelBodySchema,
  ENVELOPE_BODIES,
  type EnvelopeBody,
  type EnvelopeKind,
  enrollmentBodySchema,
  gatewaySettingsBodySchema,
  httpProxySchema,
  MAX_SSH_KEYS,
  type PublicJwk,
  publicJwkSchema,
  sshAuthorizedKeySchema,
} from "./envelope/contract.ts";
export {
  type PinnedEnrollment,
  peekEnrollmentBundle,
  verifyEnrollmentBundle,
} from "./envelope/enrollment.ts";
export {
  claimedVersion,
  type EnvelopeClaims,
  signEnvelope,
  type VerifyOptions,
  type VerifyResult,
  verifyEnvelope,
} from "./envelope/envelope.ts";
export {
  ENVELOPE_FAILURES,
  type EnvelopeFailureCode,
  type EnvelopeRefusal,
} from "./envelope/errors.ts";
export {
  checkHttpProxy,
  checkProxyHost,
  type HttpProxy,
  type ProxyFieldError,
  parseProxyPort,
  proxyAuthorization,
  proxyName,
} from "./net/http-proxy.ts";
export {
  blockSize,
  type Cidr,
  contains,
  formatCidr,
  formatIpv4,
  netmask,
  parseCidr,
  parseIpv4,
  prefixOfNetmask,
  subBlock,
  subBlockCount,
} from "./net/ipv4.ts";
export {
  type ClientEnv,
  ManagementClient,
  type ManagementEvent,
  ManagementParser,
  quoteReason,
} from "./ovpn/management.ts";
export { type ParsedConfig, parseConfig } from "./ovpn/parse.ts";
export {
  CLIENT_BLOCKS,
  CLIENT_DIRECTIVES,
  type ClientProfile,
  DATA_CIPHERS,
  ProfileError,
  type Remote,
  renderClientProfile,
} from "./ovpn/render.ts";
export {
  type CommandResult,
  exitReason,
  fileExists,
  type ProcessEnd,
  type ProcessHandle,
  type Runner,
  type RunOptions,
  run,
  type SpawnOptions,
  type StopOptions,
  socketAccepts,
  spawnProcess,
  stopProcess,
  type WaitOptions,
  waitFor,
} from "./process/index.ts";
export {
  MIN_RSA_BITS,
  parseSshPublicKey,
  SSH_KEY_TYPES,
  type SshKeyResult,
  type SshKeyType,
  type SshPublicKey,
} from "./ssh/public-key.ts";
export { TLS_SERVER_POLICY, TLS12_CIPHER_SUITES } from "./tls/policy.ts";
export {
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  type PasswordContext,
  passwordProblems,
  passwordRules,
} from "./ui/password-rules.ts";
export { type GatewayPhase, gatewayPhase } from "./ui/phase.ts";
export { escapeFormatCharacters } from "./ui/text.ts";
export { isoTime } from "./ui/time.ts";
export { splitTokens } from "./ui/tokens.ts";
export { type Actor, type WhoMustAct, whoMustAct, whoMustActText } from "./ui/who-must-act.ts";
export {
  IPSEC_FILES,
  WORKSPACE_VPN_STATES,
  type WorkspaceProfile,
  type WorkspaceReport,
  type WorkspaceSpec,
  workspaceProfileSchema,
  workspaceReportSchema,
  workspaceSpecSchema,
} from "./workspace-spec.ts";
