// The requests the operator at this gateway decides (consent policies operator_approval and
// two_party): learned from each heartbeat answer, shown oldest first on the UI and the local API,
// decided through the platform (Allow / Deny), and signalled on an optional lamp file ("1" while
// any request waits for the operator, "0" otherwise — e.g. a GPIO sysfs `value` file).
import type { PendingRequest, RequestDecision, RequestDecisionResponse } from "@meetpoint/common";
import { ControlError, type ControlPort } from "../control/client.ts";
import type { Log } from "./events.ts";

export interface ConsentDeps {
  control: Pick<ControlPort, "decide">;
  /** The lamp's output file (MEETPOINT_REQUEST_LAMP_PATH); null: no lamp. */
  lampPath: string | null;
  /** A heartbeat now, so a decision's effect (grant, next request) shows at once. */
  heartbeatNow: () => void;
  log: Log;
  now: () => Date;
}

/** A decision as the UI and local API show it: ok, or refused with the HTTP status to answer. */
export type ConsentResult =
  | { ok: true; outcome: RequestDecisionResponse["outcome"]; message: string }
  | { ok: false; status: 404 | 409 | 502; message: string };

export class ConsentRequests {
  private requests: PendingRequest[] = [];
  private lamp: "0" | "1" | null = null;
  private lampFailing = false;

  constructor(private readonly deps: ConsentDeps) {}

  /** The platform's current list (a heartbeat answer); the lamp follows. */
  async receive(requests: PendingRequest[]): Promise<void> {
    this.requests = [...requests].sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
    await this.signal();
  }

  /**
   * Requests waiting for this operator, oldest first: not yet approved here and not past their
   * decide-by time (the platform expires them; the screen does not wait for its word).
   */
  pending(): PendingRequest[] {
    const now = this.deps.now().getTime();
    return this.requests.filter((r) => !r.operatorApproved && new Date(r.decideBy).getTime() > now);
  }

  /** Requests this operator approved that wait for a customer approver (two-party). */
  waitingForPortal(): PendingRequest[] {
    const now = this.deps.now().getTime();
    return this.requests.filter((r) => r.operatorApproved && new Date(r.decideBy).getTime() > now);
  }

  /** The lamp's state: whether a request waits for this operator, and how many. */
  signalState(): { requestPending: boolean; count: number } {
    const count = this.pending().length;
    return { requestPending: count > 0, count };
  }

  /**
   * The operator's Allow or Deny of request `id`, made at `where`: reported to the platform, which
   * answers what it did (idempotent). Refused: 404 for a request not through this gateway, 409 for
   * one no longer pending, 502 while the platform cannot be reached (nothing was decided).
   */
  async decide(
    id: string,
    decision: RequestDecision["decision"],
    where: RequestDecision["where"],
  ): Promise<ConsentResult> {
    try {
      const answer = await this.deps.control.decide(id, { decision, where });
      this.deps.log(
        "info",
        `request ${id}: ${decision === "allow" ? "allowed" : "denied"} by the operator (${where}) — ${answer.message}`,
      );
      // Not shown again before the next heartbeat says what stands.
      this.requests = this.requests.filter((r) => r.id !== id);
      await this.signal();
      this.deps.heartbeatNow();
      return { ok: true, outcome: answer.outcome, message: answer.message };
    } catch (error) {
      if (error instanceof ControlError && (error.status === 404 || error.status === 409)) {
        this.deps.log(
          "warn",
          `request ${id}: ${decision} refused by the platform: ${error.message}`,
        );
        this.requests = this.requests.filter((r) => r.id !== id);
        await this.signal();
        return { ok: false, status: error.status, message: error.message };
      }
      const message = `the platform could not be reached: nothing was decided (${(error as Error).message})`;
      this.deps.log("error", `request ${id}: ${message}`);
      return { ok: false, status: 502, message };
    }
  }

  /** Writes the lamp file when its state changes (and retries after a failed write). */
  async signal(): Promise<void> {
    const path = this.deps.lampPath;
    if (!path) return;
    const next = this.signalState().requestPending ? "1" : "0";
    if (next === this.lamp && !this.lampFailing) return;
    try {
      await Bun.write(path, next);
      this.lamp = next;
      if (this.lampFailing) this.deps.log("info", `request lamp ${path}: written again`);
      this.lampFailing = false;
    } catch (error) {
      if (!this.lampFailing)
        this.deps.log("error", `request lamp ${path}: cannot write: ${(error as Error).message}`);
      this.lampFailing = true;
    }
  }
}
