// The supervisor's reports to the platform: its state as JSON, POSTed with the bearer token on
// every change and at a fixed interval. A failed POST is retried at the next tick; the token is
// never logged.
import type { WorkspaceReport } from "@meetpoint/common";

export interface Reporter {
  /** Sets the state; posts it at once when it changed (vpn or lastError). */
  set(next: Omit<WorkspaceReport, "at">): Promise<void>;
  /** Posts the current state again (the periodic report). */
  tick(): Promise<void>;
  current(): WorkspaceReport;
}

/**
 * A reporter for `url` with `token`; `log` takes one line per failed POST (status or error text,
 * no token). Each POST has a 5 s deadline.
 */
export function createReporter(
  target: { url: string; token: string },
  log: (line: string) => void,
  now: () => Date = () => new Date(),
): Reporter {
  let state: WorkspaceReport = { vpn: "connecting", at: now().toISOString() };
  const post = async () => {
    try {
      const response = await fetch(target.url, {
        method: "POST",
        headers: { authorization: `Bearer ${target.token}`, "content-type": "application/json" },
        body: JSON.stringify(state),
        signal: AbortSignal.timeout(5000),
      });
      if (!response.ok) log(`report: ${response.status} from the platform`);
    } catch (error) {
      log(`report: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  return {
    async set(next) {
      const changed =
        next.vpn !== state.vpn || next.lastError !== state.lastError || next.fatal !== state.fatal;
      state = { ...next, at: now().toISOString() };
      if (changed) await post();
    },
    async tick() {
      state = { ...state, at: now().toISOString() };
      await post();
    },
    current: () => state,
  };
}
