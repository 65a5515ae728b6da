// Several platform instances over one PostgreSQL: the registry (liveness, refusals at start),
// leases for singleton jobs, and the sweep of a lost instance's sessions.
export { JOB_LEASE_MS, JobLeases, type SingletonJob } from "./leases.ts";
export { type LostSessionEnds, sweepLostInstances } from "./lost.ts";
export {
  clockSkewMs,
  type InstanceIdentity,
  InstanceRefused,
  InstanceRegistry,
  poolsOverlap,
  REFRESH_MS,
  STALE_MS,
  serverOfInstance,
} from "./registry.ts";
