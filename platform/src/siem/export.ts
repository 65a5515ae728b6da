// The SIEM export: one forwarder per configured destination, each driven by its own loop — at
// once while there is more to send, every `pollMs` when idle, with back-off while a collector is
// down (1 s doubling to 30 s).

import type { SiemConfig } from "./destinations.ts";
import { type ForwarderDeps, type ForwarderStatus, SiemForwarder } from "./forwarder.ts";

export interface SiemExportDeps extends Omit<ForwarderDeps, "destination" | "alarmBacklog"> {
  config: SiemConfig;
  /** Idle polling interval in milliseconds; default 250. */
  pollMs?: number;
}

const BACKOFF_MS = [1000, 2000, 4000, 8000, 16_000, 30_000];

export class SiemExport {
  readonly forwarders: SiemForwarder[];
  private running = false;
  private loops: Promise<void>[] = [];
  private wakers = new Set<() => void>();

  constructor(private readonly deps: SiemExportDeps) {
    this.forwarders = deps.config.destinations.map(
      (destination) =>
        new SiemForwarder({ ...deps, destination, alarmBacklog: deps.config.alarmBacklog }),
    );
  }

  status(): ForwarderStatus[] {
    return this.forwarders.map((f) => f.status());
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = this.forwarders.map((f) => this.loop(f));
  }

  /** Ends the loops; each forwarder confirms what it sent (up to its confirmation time) and closes. */
  async stop(): Promise<void> {
    this.running = false;
    for (const wake of this.wakers) wake();
    await Promise.all(this.loops);
    await Promise.all(this.forwarders.map((f) => f.stop()));
  }

  private async loop(forwarder: SiemForwarder): Promise<void> {
    let failures = 0;
    while (this.running) {
      let result: Awaited<ReturnType<SiemForwarder["round"]>>;
      try {
        result = await forwarder.round();
      } catch (error) {
        // The database failed (the platform fails closed elsewhere); try again later.
        this.deps.log?.(`SIEM export: ${String(error)}`);
        result = "down";
      }
      if (result === "sent") {
        failures = 0;
        continue;
      }
      const waitMs =
        result === "down"
          ? (BACKOFF_MS[Math.min(failures++, BACKOFF_MS.length - 1)] ?? 30_000)
          : (this.deps.pollMs ?? 250);
      if (result !== "down") failures = 0;
      await this.pause(waitMs);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }
}
