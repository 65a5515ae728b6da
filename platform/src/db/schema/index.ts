// The database schema: one file per entity.

export * from "./alerts.ts";
export * from "./api-tokens.ts";
export * from "./audit-checkpoints.ts";
export * from "./audit-cursors.ts";
export * from "./audit-entries.ts";
export * from "./certificate-authorities.ts";
export * from "./customers.ts";
export * from "./gateway-commands.ts";
export * from "./gateway-sessions.ts";
export * from "./gateway-settings.ts";
export * from "./gateways.ts";
export * from "./identity-providers.ts";
export * from "./issued-certificates.ts";
export * from "./machines.ts";
export * from "./maintenance-windows.ts";
export * from "./one-time-reveals.ts";
export * from "./platform-instances.ts";
export * from "./platform-keys.ts";
export * from "./remote-sessions.ts";
export * from "./request-approvals.ts";
export * from "./role-assignments.ts";
export * from "./services.ts";
export * from "./sites.ts";
export * from "./users.ts";
export * from "./web-sessions.ts";
export * from "./workspaces.ts";
