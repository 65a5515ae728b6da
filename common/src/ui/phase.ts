// What a gateway is doing, in the four words both UIs use: off (idle), connecting, online, or
// failing (armed by the operator, but the data channel does not come up and it keeps retrying).
import type { AgentState } from "../control/contract.ts";

export type GatewayPhase = "idle" | "connecting" | "online" | "failing";

/**
 * The phase of an agent in `state` with `lastError`: while armed, an error means it is failing (a
 * retry passes through "connecting" without ending that), until it is online or switched off.
 */
export function gatewayPhase(state: AgentState | string, lastError: string | null): GatewayPhase {
  if (state === "online") return "online";
  if (state === "idle") return "idle";
  if (state === "reconnecting") return "failing";
  return lastError ? "failing" : "connecting";
}
