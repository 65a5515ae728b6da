// The remote-access core: remote sessions, gateways' data channels, the connection decision, their
// ends — and the ports to the data plane. See docs/architecture.md for one Connect through it.

export { type ApprovalRecord, approvalsOf } from "./approvals.ts";
export type { Connections } from "./connections.ts";
export type { DataChannels, ReconnectVerdict } from "./data-channels.ts";
export {
  type ConnectionDecision,
  type ConnectionHandler,
  type DataPlane,
  type DataPlaneHealth,
  type DataPlaneStatus,
  RecordingDataPlane,
  type RefusedHandshakes,
  type ServerInstance,
  type ServerState,
} from "./data-plane.ts";
export { DatabaseWatch, type WatchedSessions } from "./database-watch.ts";
export { carryOut, type Effect } from "./effects.ts";
export type { SessionEnds } from "./ends.ts";
export {
  type HeartbeatKnown,
  readGatewayForHeartbeat,
  readGatewayRow,
} from "./heartbeat-read.ts";
export {
  END_REASONS,
  type EndReason,
  nextState,
  type SessionEvent,
  type SessionTimes,
} from "./lifecycle.ts";
export { MAINTENANCE_SERVICE, type MaintenanceSessions } from "./maintenance.ts";
export type { GatewaySession, RemoteSession, SessionView } from "./model.ts";
export {
  CLOSE_REASONS,
  type CloseReason,
  closeReasonText,
  endText,
  isCloseReason,
  operatorMustReconnect,
} from "./reasons.ts";
export { createRemoteAccess, type RemoteAccess, type RemoteAccessDeps } from "./remote-access.ts";
export type { RemoteSessions } from "./remote-sessions.ts";
export { MODBUS_PORT, modbusService } from "./request-rules.ts";
export { ConsentRequests, type Decision } from "./requests.ts";
export { instanceNetwork } from "./tunnel.ts";
export { occurrenceAt, occurrencesBetween, windowsOverlap } from "./window-times.ts";
export {
  type MaintenanceWindow,
  MaintenanceWindows,
  type WindowCancel,
  windowState,
} from "./windows.ts";
