// The web layer: the portal app and what it needs to be created.
export { type App, createApp, MAX_FORM_BYTES } from "./app.ts";
export { AuthFailures } from "./auth-failures.ts";
export type { AppDeps } from "./env.ts";
export { HttpsListener, type HttpsOptions, queuedConnectionsMigrate } from "./https-listener.ts";
export { GATEWAY_API_LIMIT, LoadShedder } from "./load-shedding.ts";
