// Master data: customers, sites, gateways, machines, services — always read through the caller's scope.
export * from "./consent.ts";
export * from "./customers.ts";
export * from "./gateways.ts";
export * from "./machines.ts";
export { machineIdsOnSites } from "./on-sites.ts";
export { blockOf, type ProxyPool } from "./proxy-pool.ts";
export * from "./services.ts";
export { type SetupProgress, setupProgress } from "./setup.ts";
export * from "./sites.ts";
