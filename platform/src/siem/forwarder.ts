// One SIEM destination's forwarder: reads the audit log after its cursor, in order, and sends each
// entry its filter selects. The cursor moves only past entries known to be delivered, so a
// collector that is down, refuses or resets the connection loses nothing: the spool (the audit log
// after the cursor) grows, an alarm is raised past its limit, and everything is sent, in order,
// when the collector is back. The platform's requests never wait for any of this.
import {
  AUDIT_ACTIONS,
  type AuditAction,
  type AuditEntry,
  advanceCursor,
  entriesAfter,
  headSeq,
  LEASE_MS,
  leaseCursor,
} from "../audit/index.ts";
import type { Db } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import { type DestinationConfig, endpointOf, selects } from "./destinations.ts";
import { cef, octetCounted, rfc5424, type SyslogIdentity } from "./format.ts";
import { openConnection, type SyslogConnection, UDP_MAX_BYTES } from "./transport.ts";

export interface ForwarderStatus {
  destination: string;
  url: string;
  connected: boolean;
  /** Entries in the spool: after the cursor (approximately: the head's seq minus the cursor). */
  backlog: number;
  /** Last entry known delivered (or skipped by the filter). */
  deliveredSeq: number;
  lastError: string | null;
  /** Whether the backlog is over the alarm limit. */
  alarm: boolean;
  /** Whether this instance holds the destination's lease (another instance forwards otherwise). */
  active: boolean;
}

export interface AlarmChange {
  destination: string;
  raised: boolean;
  backlog: number;
  lastError: string | null;
}

export interface ForwarderDeps {
  db: Db;
  clock: Clock;
  destination: DestinationConfig;
  identity: SyslogIdentity;
  /** The platform's version, in CEF headers. */
  version: string;
  /** This platform instance's id (lease holder). */
  instance: string;
  /** Spool size (entries) above which the alarm is raised; cleared again below it. */
  alarmBacklog: number;
  onAlarm?: (change: AlarmChange) => void | Promise<void>;
  /** Opens the connection; default openConnection (tests pass one that counts). */
  connect?: typeof openConnection;
  /** A batch counts as delivered once the connection stayed open this long after it; default 500 ms. */
  confirmMs?: number;
  /** Entries read and sent per round; default 500. */
  batchSize?: number;
  log?: (line: string) => void;
}

export type RoundResult = "sent" | "idle" | "down" | "standby";

export class SiemForwarder {
  private connection: SyslogConnection | null = null;
  /** Persisted: every entry up to it is delivered. Null until the lease was first taken. */
  private confirmed: number | null = null;
  /** Handed to the current connection, up to here. */
  private sent = 0;
  /** Batches written on the current connection and not yet confirmed, oldest first. */
  private inFlight: { seq: number; at: number }[] = [];
  private lastError: string | null = null;
  private backlog = 0;
  private alarm = false;
  private active = false;
  private leaseRenewAt = 0;
  private readonly consumer: string;
  private readonly endpoint;

  /** How long the connection must carry a batch before it counts as delivered (ms). */
  private get confirmMs(): number {
    return this.deps.confirmMs ?? 500;
  }

  constructor(private readonly deps: ForwarderDeps) {
    this.consumer = `siem:${deps.destination.name}`;
    this.endpoint = endpointOf(deps.destination);
  }

  status(): ForwarderStatus {
    return {
      destination: this.deps.destination.name,
      url: this.deps.destination.url,
      connected: this.connection !== null && this.connection.ended === null,
      backlog: this.backlog,
      deliveredSeq: this.confirmed ?? 0,
      lastError: this.lastError,
      alarm: this.alarm,
      active: this.active,
    };
  }

  /** One step: confirm what is delivered, then send the next batch. Never throws for the network. */
  async round(): Promise<RoundResult> {
    const { db, clock } = this.deps;
    // The lease is renewed when half of it has passed: an idle destination costs one read a round.
    const now = clock.now().getTime();
    const renew = !this.active || now >= this.leaseRenewAt;
    const cursor = renew
      ? await leaseCursor(db, clock, this.consumer, this.deps.instance)
      : (this.confirmed ?? 0);
    if (renew) this.leaseRenewAt = now + LEASE_MS / 2;
    this.active = cursor !== null;
    if (cursor === null) {
      this.drop();
      this.confirmed = null;
      return "standby";
    }
    if (this.confirmed === null || cursor > this.confirmed) {
      this.confirmed = cursor;
      this.sent = cursor;
      this.inFlight = [];
    }
    const closedEarly = await this.settle();
    await this.checkBacklog();
    // A collector that closes within the confirmation time of every batch confirms nothing: the
    // back-off applies, or the same batch would be sent again and again at once.
    if (closedEarly) return "down";

    const batch = await entriesAfter(db, this.sent, this.deps.batchSize ?? 500);
    const last = batch.at(-1);
    if (!last) return "idle";
    const chosen = batch.filter((entry) => selects(this.deps.destination, entry));
    if (chosen.length === 0) {
      this.sent = last.seq;
      this.inFlight.push({ seq: last.seq, at: performance.now() });
      return "sent";
    }
    if (!this.connection) {
      try {
        this.connection = await (this.deps.connect ?? openConnection)(
          this.endpoint,
          this.deps.destination,
        );
        if (this.lastError) this.deps.log?.(`SIEM ${this.deps.destination.name}: connected again`);
        this.lastError = null;
      } catch (error) {
        this.fail(error);
        return "down";
      }
    }
    try {
      const messages = chosen.map((entry) => this.render(entry));
      if (this.connection.datagrams) {
        for (const message of messages)
          await this.connection.write(Buffer.from(message, "utf8").subarray(0, UDP_MAX_BYTES));
      } else {
        await this.connection.write(Buffer.concat(messages.map(octetCounted)));
      }
    } catch (error) {
      this.fail(error);
      return "down";
    }
    this.sent = last.seq;
    this.inFlight.push({ seq: last.seq, at: performance.now() });
    return "sent";
  }

  /** Waits until what was sent is confirmed (at most the confirmation time), then closes. */
  async stop(): Promise<void> {
    if (this.connection && this.inFlight.length > 0) {
      await Bun.sleep(this.confirmMs);
      await this.settle().catch(() => {});
    }
    this.drop();
  }

  private render(entry: AuditEntry): string {
    const description = AUDIT_ACTIONS[entry.action as AuditAction] ?? entry.action;
    const identity = { ...this.deps.identity, facility: this.deps.destination.facility };
    return this.deps.destination.format === "cef"
      ? rfc5424(entry, identity, cef(entry, this.deps.version, description))
      : rfc5424(entry, identity);
  }

  /**
   * Confirms batches that the connection carried for the confirmation time: while it is open,
   * those written that long ago; when the collector closed it cleanly, those written that long
   * before its FIN (a batch written just before may have reached the closed socket, whose reset
   * can come after our close). The unconfirmed rest is sent again on the next connection.
   * Returns whether a clean close left a batch unconfirmed.
   */
  private async settle(): Promise<boolean> {
    const connection = this.connection;
    const ended = connection?.ended ?? null;
    if (ended && !ended.clean) this.lastError = ended.error;
    const horizon =
      (ended ? (ended.clean ? ended.at : Number.NEGATIVE_INFINITY) : performance.now()) -
      this.confirmMs;
    let upTo: number | null = null;
    while (this.inFlight[0] && this.inFlight[0].at <= horizon) {
      upTo = this.inFlight[0].seq;
      this.inFlight.shift();
    }
    if (upTo !== null && upTo > (this.confirmed ?? 0)) {
      await advanceCursor(this.deps.db, this.deps.clock, this.consumer, this.deps.instance, upTo);
      this.confirmed = upTo;
    }
    if (!ended) return false;
    const closedEarly = ended.clean && this.inFlight.length > 0;
    if (closedEarly)
      this.lastError = `the collector closed the connection within ${this.confirmMs} ms of a batch: it is sent again`;
    this.sent = this.confirmed ?? this.sent;
    this.inFlight = [];
    this.drop();
    return closedEarly;
  }

  private async checkBacklog(): Promise<void> {
    this.backlog = Math.max(0, (await headSeq(this.deps.db)) - (this.confirmed ?? 0));
    const over = this.backlog > this.deps.alarmBacklog;
    if (over === this.alarm) return;
    this.alarm = over;
    this.deps.log?.(
      over
        ? `SIEM ${this.deps.destination.name}: ALARM, ${this.backlog} entries waiting (limit ${this.deps.alarmBacklog})${this.lastError ? `: ${this.lastError}` : ""}`
        : `SIEM ${this.deps.destination.name}: alarm cleared, ${this.backlog} entries waiting`,
    );
    try {
      await this.deps.onAlarm?.({
        destination: this.deps.destination.name,
        raised: over,
        backlog: this.backlog,
        lastError: this.lastError,
      });
    } catch (error) {
      this.deps.log?.(
        `SIEM ${this.deps.destination.name}: recording the alarm failed: ${String(error)}`,
      );
    }
  }

  private fail(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (message !== this.lastError)
      this.deps.log?.(
        `SIEM ${this.deps.destination.name} (${this.deps.destination.url}): ${message}`,
      );
    this.lastError = message;
    this.sent = this.confirmed ?? this.sent;
    this.inFlight = [];
    this.drop();
  }

  private drop(): void {
    this.connection?.close();
    this.connection = null;
  }
}
