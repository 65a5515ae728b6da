// Commands for gateways (disconnect, refresh), signed and queued in memory until the gateway's
// long-poll picks them up. A platform restart loses the queue on purpose: every gateway learns the
// state of its data channel from its next heartbeat anyway.
import type { EnvelopeBody } from "@meetpoint/common";
import type { Pki } from "../pki/index.ts";
import type { Clock } from "../shared/index.ts";

type Command = EnvelopeBody<"command">;

interface Queue {
  items: { seq: number; token: string; at: number }[];
  waiters: Set<() => void>;
}

/** How long a queued command waits for its gateway, in milliseconds. */
const KEEP_MS = 60_000;
/** A command envelope is valid for five minutes: delivered at once, or meaningless. */
const VALID_MS = 5 * 60_000;

export class GatewayCommands {
  private queues = new Map<string, Queue>();
  private seq = 0;

  constructor(
    private readonly pki: Pick<Pki, "signEnvelope">,
    private readonly clock: Clock,
    private readonly log: (line: string) => void = console.error,
  ) {}

  private queue(gatewayId: string): Queue {
    let queue = this.queues.get(gatewayId);
    if (!queue) {
      queue = { items: [], waiters: new Set() };
      this.queues.set(gatewayId, queue);
    }
    return queue;
  }

  /** Signs and queues a command; wakes the gateway's waiting long-poll. Never throws. */
  async send(gatewayId: string, command: Command): Promise<void> {
    try {
      const now = this.clock.now();
      const { token } = await this.pki.signEnvelope({
        kind: "command",
        audience: gatewayId,
        issuedAt: now,
        expiresAt: new Date(now.getTime() + VALID_MS),
        body: command,
      });
      const queue = this.queue(gatewayId);
      const at = Date.now();
      queue.items = queue.items.filter((item) => at - item.at < KEEP_MS);
      queue.items.push({ seq: ++this.seq, token, at });
      for (const wake of queue.waiters) wake();
    } catch (error) {
      this.log(`command ${command.command} for gateway ${gatewayId} not queued: ${error}`);
    }
  }

  /**
   * Commands after `cursor`, waiting up to `waitMs` for one to arrive. A cursor from before a
   * platform restart (larger than any sequence number now) counts as 0.
   */
  async next(
    gatewayId: string,
    cursor: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<{ cursor: number; commands: string[] }> {
    const from = cursor > this.seq ? 0 : cursor;
    const pending = () => (this.queues.get(gatewayId)?.items ?? []).filter((i) => i.seq > from);
    if (pending().length === 0 && waitMs > 0) {
      const queue = this.queue(gatewayId);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          queue.waiters.delete(done);
          signal?.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        queue.waiters.add(done);
        signal?.addEventListener("abort", done);
      });
      if (queue.items.length === 0 && queue.waiters.size === 0) this.queues.delete(gatewayId);
    }
    const items = pending();
    return {
      cursor: items.at(-1)?.seq ?? Math.max(from, this.seq),
      commands: items.map((i) => i.token),
    };
  }
}
