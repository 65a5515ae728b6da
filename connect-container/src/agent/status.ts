// What the operator sees, as a pure state machine: idle until the operator presses Connect;
// connecting, online, or reconnecting (after a fault) while the operator's consent stands; back to
// idle on any Disconnect — the operator's, or a technician's or an admin's through the platform.
import type { AgentState, GatewayRemoteSession, MaintenanceSession } from "@meetpoint/common";

export interface AgentStatus {
  state: AgentState;
  /** The data channel the platform issued for the current Connect. */
  gatewaySessionId: string | null;
  /** The gateway's address in the tunnel while online. */
  tunnelAddress: string | null;
  /** Who pressed Connect: "operator UI" or "local API"; null while idle. */
  armedBy: string | null;
  /** Since when the current state holds. */
  since: Date;
  /** The last thing that went wrong, in plain words; cleared by a successful Connect. */
  lastError: string | null;
  /**
   * Since when the armed gateway cannot connect: the first fault after Connect or after being
   * online, kept through every retry (which passes through "connecting") until it is online again.
   */
  failingSince: Date | null;
  /** When the next automatic attempt runs (state reconnecting). */
  retryAt: Date | null;
  /** Remote sessions through this gateway, as the platform reported them last. */
  remoteSessions: GatewayRemoteSession[];
  /** Platform admins' maintenance sessions to this gateway's SSH server, as reported last. */
  maintenanceSessions: MaintenanceSession[];
}

export type StatusEvent =
  | { type: "connect"; by: string; at: Date }
  | { type: "channel"; gatewaySessionId: string; at: Date }
  | { type: "tunnel-up"; address: string; at: Date }
  /** Something broke while armed; the agent tries again at `retryAt`. */
  | { type: "fault"; error: string; retryAt: Date; at: Date }
  | { type: "retry"; at: Date }
  /** Disconnect: by the operator (error null) or because the platform closed the channel for good. */
  | { type: "disconnect"; error: string | null; at: Date }
  | {
      type: "sessions";
      remoteSessions: GatewayRemoteSession[];
      maintenanceSessions: MaintenanceSession[];
    };

export const initialStatus = (at: Date): AgentStatus => ({
  state: "idle",
  gatewaySessionId: null,
  tunnelAddress: null,
  armedBy: null,
  since: at,
  lastError: null,
  failingSince: null,
  retryAt: null,
  remoteSessions: [],
  maintenanceSessions: [],
});

/** Whether the operator's consent stands (anything but idle). */
export const armed = (status: AgentStatus) => status.state !== "idle";

export function nextStatus(status: AgentStatus, event: StatusEvent): AgentStatus {
  switch (event.type) {
    case "connect":
      if (armed(status)) return status;
      return {
        ...initialStatus(event.at),
        state: "connecting",
        armedBy: event.by,
      };
    case "channel":
      if (!armed(status)) return status;
      return { ...status, gatewaySessionId: event.gatewaySessionId };
    case "tunnel-up":
      if (status.state !== "connecting") return status;
      return {
        ...status,
        state: "online",
        tunnelAddress: event.address,
        since: event.at,
        lastError: null,
        failingSince: null,
        retryAt: null,
      };
    case "fault":
      if (!armed(status)) return { ...status, lastError: event.error };
      return {
        ...status,
        state: "reconnecting",
        since: status.state === "reconnecting" ? status.since : event.at,
        lastError: event.error,
        failingSince: status.failingSince ?? event.at,
        retryAt: event.retryAt,
        tunnelAddress: null,
        remoteSessions: [],
        maintenanceSessions: [],
      };
    case "retry":
      if (status.state !== "reconnecting") return status;
      return { ...status, state: "connecting", retryAt: null };
    case "disconnect":
      return { ...initialStatus(event.at), lastError: event.error };
    case "sessions":
      return armed(status)
        ? {
            ...status,
            remoteSessions: event.remoteSessions,
            maintenanceSessions: event.maintenanceSessions,
          }
        : status;
  }
}
