// The web layer: the portal app and what it needs to be created.
export { type App, createApp, MAX_FORM_BYTES } from "./app.ts";
export type { AppDeps } from "./env.ts";
export {
  DEFAULT_GATEWAY_AUTH_POLICY,
  type FailureSummary,
  FailureWindows,
  GatewayAuthGuard,
  type GatewayAuthPolicy,
  sourceOf,
} from "./gateway-auth.ts";
export { HttpsListener, type HttpsOptions } from "./https-listener.ts";
