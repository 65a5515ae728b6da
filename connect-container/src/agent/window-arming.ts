// Maintenance windows at the gateway: the heartbeat answer lists the coming day's occurrences of
// this gateway's windows; the agent arms its data channel at an occurrence's start (as if the
// operator had pressed Connect — the event log and the platform's audit say "maintenance window")
// and disarms it at the end, if it was the window that armed it. The decision is a pure function
// of the occurrences, the time and what the agent did; a small scheduler with an injected clock
// and timer carries it out.
import type { MaintenanceWindowOccurrence } from "@meetpoint/common";
import type { Log } from "./events.ts";

/** An occurrence as the agent keeps it. */
export interface WindowOccurrence {
  id: string;
  start: Date;
  end: Date;
  reason: string;
  createdBy: string;
}

/** What the window arming knows: the occurrences, and which one armed the channel (if any). */
export interface ArmingState {
  windows: WindowOccurrence[];
  /** The occurrence whose start armed the data channel and whose end disarms it; null: none. */
  armedBy: WindowOccurrence | null;
  /** Occurrences already handled ("<id>@<start>"): armed once, never again (the operator's Disconnect stands). */
  handled: Set<string>;
}

export type ArmingStep =
  | { action: "arm"; occurrence: WindowOccurrence }
  | { action: "disarm"; occurrence: WindowOccurrence; why: "ended" | "cancelled" }
  /** Overlapping windows: the next one keeps the channel armed until its own end. */
  | { action: "handover"; from: WindowOccurrence; to: WindowOccurrence }
  | { action: "none" };

export const keyOf = (o: WindowOccurrence) => `${o.id}@${o.start.toISOString()}`;

const openAt = (o: WindowOccurrence, now: Date) => o.start <= now && now < o.end;

/**
 * What to do now. `channelArmed`: whether the data channel is armed (by anyone). Disarm at the end
 * (or when the platform no longer lists the occurrence: cancelled) only what a window armed; arm at
 * an open occurrence not handled yet while the channel is not armed (armed by the operator: the
 * window leaves it as it is, and never disarms it).
 */
export function nextStep(state: ArmingState, now: Date, channelArmed: boolean): ArmingStep {
  const { armedBy } = state;
  if (armedBy) {
    const listed = state.windows.find((w) => keyOf(w) === keyOf(armedBy));
    const over = !listed || !openAt(listed, now);
    if (over) {
      const next = state.windows.find((w) => openAt(w, now) && keyOf(w) !== keyOf(armedBy));
      if (next && channelArmed) return { action: "handover", from: armedBy, to: next };
      return { action: "disarm", occurrence: armedBy, why: listed ? "ended" : "cancelled" };
    }
    return { action: "none" };
  }
  if (channelArmed) return { action: "none" };
  const due = state.windows.find((w) => openAt(w, now) && !state.handled.has(keyOf(w)));
  return due ? { action: "arm", occurrence: due } : { action: "none" };
}

/** When the next step can change (the next start or end after `now`); null: nothing scheduled. */
export function nextWake(state: ArmingState, now: Date): Date | null {
  const times = state.windows
    .flatMap((w) => [w.start, w.end])
    .filter((t) => t.getTime() > now.getTime());
  return times.length ? new Date(Math.min(...times.map((t) => t.getTime()))) : null;
}

export interface WindowArmingDeps {
  now: () => Date;
  /** Whether the data channel is armed (connecting, online or reconnecting). */
  channelArmed: () => boolean;
  /** Arms as the operator's Connect would, naming the window (the platform audits it). */
  connect: (by: string, windowId: string) => Promise<{ ok: boolean; message: string }>;
  /** Disarms as the operator's Disconnect would (the platform ends the channel's sessions). */
  disconnect: (by: string, windowId: string) => Promise<void>;
  log: Log;
  /**
   * Where the occurrences armed for already are kept, so that a restart inside a window does not
   * arm again what the operator disconnected (absent: in memory only).
   */
  kept?: { load: () => string[]; save: (keys: string[]) => void };
  /** Timers, injected so that tests drive the time. */
  setTimer?: (run: () => void, ms: number) => unknown;
  clearTimer?: (timer: unknown) => void;
}

export class WindowArming {
  private state: ArmingState = { windows: [], armedBy: null, handled: new Set() };
  private timer: unknown = null;
  private stopped = false;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly deps: WindowArmingDeps) {
    this.state.handled = new Set(deps.kept?.load() ?? []);
  }

  /** The occurrences the platform listed (each heartbeat); absent (older platform): unchanged. */
  receive(windows: MaintenanceWindowOccurrence[] | undefined): Promise<void> {
    if (windows === undefined) return this.running;
    this.state.windows = windows.map((w) => ({
      ...w,
      start: new Date(w.start),
      end: new Date(w.end),
    }));
    return this.tick();
  }

  /** The occurrences as last listed, and the one that armed the channel. */
  get current(): { windows: WindowOccurrence[]; armedBy: WindowOccurrence | null } {
    return { windows: this.state.windows, armedBy: this.state.armedBy };
  }

  /** The operator pressed Disconnect (or the platform closed the channel): the window lets go. */
  released(): void {
    this.state.armedBy = null;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) (this.deps.clearTimer ?? clearTimeout)(this.timer as Timer);
  }

  /** Applies the steps due now, one at a time, then sleeps until the next start or end. */
  tick(): Promise<void> {
    this.running = this.running
      .then(() => this.step())
      .catch((error) => {
        this.deps.log("error", `maintenance window: ${(error as Error).message}`);
      });
    return this.running;
  }

  private async step(): Promise<void> {
    if (this.stopped) return;
    // The channel went down without us (the operator's Disconnect, a close for good): let go.
    if (this.state.armedBy && !this.deps.channelArmed()) this.state.armedBy = null;
    for (let i = 0; i < 4; i++) {
      const now = this.deps.now();
      const step = nextStep(this.state, now, this.deps.channelArmed());
      if (step.action === "none") break;
      if (step.action === "arm") {
        this.handle(step.occurrence);
        this.state.armedBy = step.occurrence;
        this.deps.log(
          "info",
          `maintenance window ${step.occurrence.id} (${step.occurrence.reason}, by ${step.occurrence.createdBy}) starts: connecting until ${step.occurrence.end.toISOString()}`,
        );
        const done = await this.deps.connect("maintenance window", step.occurrence.id);
        if (!done.ok) {
          this.state.armedBy = null;
          this.deps.log("warn", `maintenance window: ${done.message}`);
        }
      } else if (step.action === "handover") {
        this.handle(step.to);
        this.state.armedBy = step.to;
        this.deps.log(
          "info",
          `maintenance window ${step.from.id} ends; window ${step.to.id} keeps the channel armed until ${step.to.end.toISOString()}`,
        );
      } else {
        this.state.armedBy = null;
        this.deps.log(
          "info",
          `maintenance window ${step.occurrence.id} ${step.why === "cancelled" ? "was cancelled" : "ends"}: disconnecting`,
        );
        await this.deps.disconnect("maintenance window", step.occurrence.id);
      }
    }
    this.schedule();
  }

  /** Marks an occurrence armed for (kept: the newest 100). */
  private handle(occurrence: WindowOccurrence): void {
    this.state.handled.add(keyOf(occurrence));
    const keys = [...this.state.handled].slice(-100);
    this.state.handled = new Set(keys);
    this.deps.kept?.save(keys);
  }

  private schedule(): void {
    if (this.stopped) return;
    const clear = this.deps.clearTimer ?? ((t: unknown) => clearTimeout(t as Timer));
    if (this.timer !== null) clear(this.timer);
    this.timer = null;
    const now = this.deps.now();
    const wake = nextWake(this.state, now);
    if (!wake) return;
    // Timers drift and sleep: wake at most a minute ahead and look again.
    const ms = Math.min(wake.getTime() - now.getTime(), 60_000);
    const set = this.deps.setTimer ?? ((run: () => void, delay: number) => setTimeout(run, delay));
    this.timer = set(() => void this.tick(), ms);
  }
}
