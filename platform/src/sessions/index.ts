// Sessions: who is connected to what, for how long — the rules of remote access.
export { type DataPlane, type DataPlaneStatus, RecordingDataPlane } from "./data-plane.ts";
export { DatabaseWatch } from "./database-watch.ts";
export {
  END_REASONS,
  type EndReason,
  nextState,
  type SessionEvent,
  type SessionTimes,
} from "./lifecycle.ts";
export {
  type ConnectionDecision,
  type GatewaySession,
  operatorMustReconnect,
  type RemoteSession,
  type SessionDeps,
  Sessions,
  type SessionView,
} from "./service.ts";
