// Whether the database answers, measured apart from the platform's own load. A busy event loop or
// a saturated connection pool must never look like a lost database (that cuts all remote access):
// for PostgreSQL a worker thread with its own single connection asks `select 1` every second with
// its own 2 s deadline and writes the time of each answer into memory shared with the platform,
// which reads it synchronously — no message that a busy event loop could hold back.
import { Worker } from "node:worker_threads";

/** When the database last answered, as the platform's fail-closed watch reads it. */
export interface DatabaseReachability {
  /** Epoch milliseconds of the database's last answer (never in the future). */
  lastAnswer(): number;
  stop(): void;
}

/** Seconds between probes, and how long one may take before it counts as unanswered. */
export const PROBE_INTERVAL_MS = 1000;
export const PROBE_DEADLINE_MS = 2000;

/**
 * The probe of PostgreSQL at `url` (any postgres.js connection string, multi-host included): its
 * own connection in its own thread. Until the first answer, the start counts as one.
 */
export function probePostgres(url: string): DatabaseReachability {
  const shared = new SharedArrayBuffer(8);
  const last = new BigInt64Array(shared);
  Atomics.store(last, 0, BigInt(Date.now()));
  const worker = new Worker(new URL("./reachability-worker.ts", import.meta.url), {
    workerData: { url, shared, intervalMs: PROBE_INTERVAL_MS, deadlineMs: PROBE_DEADLINE_MS },
  });
  // The probe must never keep the process alive on its own.
  worker.unref();
  return {
    lastAnswer: () => Number(Atomics.load(last, 0)),
    stop: () => void worker.terminate(),
  };
}

/**
 * PGlite runs inside the platform's own process: it cannot become unreachable while the process
 * runs, so it always counts as answering (its failures show as failing session ticks instead).
 */
export function inProcessDatabase(now: () => number = Date.now): DatabaseReachability {
  return { lastAnswer: now, stop: () => {} };
}
