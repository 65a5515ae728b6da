// Alerts from the audit log: a leased cursor reads every new entry once, in order, and turns those
// that raise an alert into deliveries (an outbox in the database), in the same transaction that
// moves the cursor; deliveries are sent by email or signed webhook and retried with back-off
// (30 s doubling to an hour, 8 attempts; then given up and audited). The gateway watch writes
// gateway.offline / gateway.reachable entries from the heartbeats' age.
import { and, asc, count, eq, gte, inArray, isNull, lt, lte, ne, or, sql } from "drizzle-orm";
import { inScope, type Principal, scopeOf } from "../access/index.ts";
import {
  type AuditEntry,
  advanceCursor,
  entriesAfter,
  leaseCursor,
  recordAudit,
  recordAuditAlone,
  SYSTEM_ACTOR,
} from "../audit/index.ts";
import {
  type AlertEvent,
  alertDeliveries,
  alertStates,
  alertSubscriptions,
  auditEntries,
  type Db,
  gateways,
  inTransaction,
  roleAssignments,
  users,
} from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import type { Mailer } from "./email.ts";
import { type AlertPayload, directEvent, emailOf, payloadOf, signInFailureKeys } from "./rules.ts";
import { checkWebhookTarget, type Resolver } from "./ssrf.ts";
import type { Subscription } from "./subscriptions.ts";
import { WEBHOOK_KEY_LABEL } from "./subscriptions.ts";
import { postWebhook } from "./webhook.ts";

export interface AlertsDeps {
  db: Db;
  clock: Clock;
  /** This platform instance (lease holder of the alerts cursor). */
  instance: string;
  unsealSecret(label: string, sealed: string): Promise<string>;
  /** Null when no mail server is configured: email deliveries wait (and say why). */
  mailer: Mailer | null;
  portalUrl: string;
  allowPrivate: boolean;
  resolve?: Resolver;
  /** Failed sign-ins of one username or address within 10 minutes that alert. */
  signInFailures: number;
  /** A gateway without a heartbeat this long is offline. */
  gatewayOfflineMs: number;
  log?: (line: string) => void;
}

const CONSUMER = "alerts";
const WINDOW_MS = 10 * 60_000;
export const MAX_ATTEMPTS = 8;

/** Milliseconds before attempt `n + 1` after `n` failed: 30 s, 60 s, … at most an hour. */
export function backoffMs(attempts: number): number {
  return Math.min(30_000 * 2 ** Math.max(0, attempts - 1), 3_600_000);
}

export class Alerts {
  constructor(private readonly deps: AlertsDeps) {}

  /** One round: gateways watched, new entries routed, due deliveries sent. */
  async tick(): Promise<void> {
    await this.watchGateways();
    while ((await this.route()) > 0) {}
    await this.deliver();
  }

  /** Routes the next entries after the cursor; returns how many were read (0: up to date or standby). */
  async route(batch = 500): Promise<number> {
    const { db, clock, instance } = this.deps;
    const cursor = await leaseCursor(db, clock, CONSUMER, instance);
    if (cursor === null) return 0;
    const entries = await entriesAfter(db, cursor, batch);
    const last = entries.at(-1);
    if (!last) return 0;
    const subscriptions = await db
      .select()
      .from(alertSubscriptions)
      .where(eq(alertSubscriptions.enabled, true));
    await inTransaction(db, async (tx) => {
      for (const entry of entries) {
        for (const { event, count: counted } of await this.eventsOf(tx, entry)) {
          const payload = payloadOf(event, entry, counted);
          for (const subscription of subscriptions) {
            if (!subscription.events.includes(event) || !(await this.sees(tx, subscription, entry)))
              continue;
            await tx.insert(alertDeliveries).values({
              subscriptionId: subscription.id,
              event,
              payload,
              nextAttemptAt: clock.now(),
            });
          }
        }
      }
      await advanceCursor(tx, clock, CONSUMER, instance, last.seq);
    });
    return entries.length;
  }

  private async eventsOf(
    db: Db,
    entry: AuditEntry,
  ): Promise<{ event: AlertEvent; count?: AlertPayload["count"] }[]> {
    const direct = directEvent(entry);
    if (direct) return [{ event: direct }];
    const events: { event: AlertEvent; count?: AlertPayload["count"] }[] = [];
    for (const key of signInFailureKeys(entry)) {
      const since = new Date(entry.at.getTime() - WINDOW_MS);
      const [kind, value = ""] = [key.slice(0, key.indexOf(":")), key.slice(key.indexOf(":") + 1)];
      // One entry is one failure; an aggregated sign_in.refused entry counts what it sums up.
      const weight = sql<number>`coalesce(sum(case when ${auditEntries.action} = 'sign_in.refused' then coalesce((${auditEntries.detail}->>'failures')::int, 0) + coalesce((${auditEntries.detail}->>'throttled')::int, 0) else 1 end), 0)::int`;
      const [row] = await db
        .select({ n: weight })
        .from(auditEntries)
        .where(
          and(
            kind === "user"
              ? eq(auditEntries.action, "sign_in")
              : inArray(auditEntries.action, ["sign_in", "sign_in.refused"]),
            ne(auditEntries.result, "ok"),
            gte(auditEntries.at, since),
            lte(auditEntries.seq, entry.seq),
            kind === "user" ? eq(auditEntries.actorName, value) : eq(auditEntries.ip, value),
          ),
        );
      const failures = row?.n ?? 0;
      if (failures < this.deps.signInFailures) continue;
      // Once per key and window: the state remembers when this key last alerted.
      const stateKey = `sign_in_failures:${key}`;
      const [state] = await db.select().from(alertStates).where(eq(alertStates.key, stateKey));
      if (state && state.since > since) continue;
      await db
        .insert(alertStates)
        .values({ key: stateKey, since: entry.at })
        .onConflictDoUpdate({ target: alertStates.key, set: { since: entry.at } });
      events.push({
        event: "sign_in_failures",
        count: { key, failures, withinMinutes: WINDOW_MS / 60_000 },
      });
    }
    return events;
  }

  /** Whether a subscription may hear of an entry: by its scope, and for a person by their rights now. */
  private async sees(db: Db, subscription: Subscription, entry: AuditEntry): Promise<boolean> {
    if (subscription.userId === null)
      return subscription.customerId === null || subscription.customerId === entry.customerId;
    const [user] = await db
      .select({ id: users.id, disabledAt: users.disabledAt })
      .from(users)
      .where(eq(users.id, subscription.userId));
    if (!user || user.disabledAt) return false;
    const grants = await db
      .select({ role: roleAssignments.role, customerId: roleAssignments.customerId })
      .from(roleAssignments)
      .where(eq(roleAssignments.userId, user.id));
    const principal: Principal = { userId: user.id, username: "", displayName: "", grants };
    const scope = scopeOf(principal, "masterdata.read");
    return entry.customerId === null ? scope.all : inScope(scope, entry.customerId);
  }

  /** Sends what is due; failures are retried later, and given up (audited) after the last attempt. */
  async deliver(limit = 50): Promise<number> {
    const { db, clock } = this.deps;
    const now = clock.now();
    const due = await db
      .select({ delivery: alertDeliveries, subscription: alertSubscriptions })
      .from(alertDeliveries)
      .innerJoin(alertSubscriptions, eq(alertSubscriptions.id, alertDeliveries.subscriptionId))
      .where(
        and(
          isNull(alertDeliveries.deliveredAt),
          isNull(alertDeliveries.failedAt),
          lte(alertDeliveries.nextAttemptAt, now),
        ),
      )
      .orderBy(asc(alertDeliveries.nextAttemptAt))
      .limit(limit);
    let sent = 0;
    for (const { delivery, subscription } of due) {
      try {
        await this.send(subscription, delivery.id, delivery.payload as AlertPayload);
        await db
          .update(alertDeliveries)
          .set({ deliveredAt: clock.now(), attempts: delivery.attempts + 1, lastError: null })
          .where(eq(alertDeliveries.id, delivery.id));
        sent++;
      } catch (error) {
        const attempts = delivery.attempts + 1;
        const message = error instanceof Error ? error.message : String(error);
        const giveUp = attempts >= MAX_ATTEMPTS;
        await inTransaction(db, async (tx) => {
          await tx
            .update(alertDeliveries)
            .set({
              attempts,
              lastError: message,
              nextAttemptAt: new Date(clock.now().getTime() + backoffMs(attempts)),
              failedAt: giveUp ? clock.now() : null,
            })
            .where(eq(alertDeliveries.id, delivery.id));
          if (giveUp)
            await recordAudit(tx, clock, {
              actor: SYSTEM_ACTOR,
              action: "alert.failed",
              result: "failed",
              target: { type: "alert_subscription", id: subscription.id },
              customerId: subscription.customerId,
              detail: {
                delivery: delivery.id,
                event: delivery.event,
                channel: subscription.channel,
                target: subscription.target,
                attempts,
                error: message,
              },
            });
        });
        this.deps.log?.(
          `alert ${delivery.event} to ${subscription.target}: attempt ${attempts} failed: ${message}`,
        );
      }
    }
    return sent;
  }

  private async send(
    subscription: Subscription,
    deliveryId: string,
    payload: AlertPayload,
  ): Promise<void> {
    if (subscription.channel === "email") {
      if (!this.deps.mailer) throw new Error("no mail server configured (MEETPOINT_SMTP_URL)");
      await this.deps.mailer.send({
        to: subscription.target,
        ...emailOf(payload, this.deps.portalUrl),
      });
      return;
    }
    if (!subscription.sealedSecret) throw new Error("the webhook has no key");
    const target = await checkWebhookTarget(
      subscription.target,
      this.deps.allowPrivate,
      this.deps.resolve,
    );
    await postWebhook({
      target,
      key: await this.deps.unsealSecret(WEBHOOK_KEY_LABEL, subscription.sealedSecret),
      deliveryId,
      body: JSON.stringify({ id: deliveryId, ...payload }),
      now: this.deps.clock.now(),
    });
  }

  /** Deliveries still to send or retry (for /metrics). */
  async outbox(): Promise<number> {
    const [row] = await this.deps.db
      .select({ n: count() })
      .from(alertDeliveries)
      .where(and(isNull(alertDeliveries.deliveredAt), isNull(alertDeliveries.failedAt)));
    return row?.n ?? 0;
  }

  /** gateway.offline once a gateway's last heartbeat is older than the threshold; gateway.reachable when it is back. */
  async watchGateways(): Promise<void> {
    const { db, clock } = this.deps;
    const now = clock.now();
    const cutoff = new Date(now.getTime() - this.deps.gatewayOfflineMs);
    const states = await db
      .select()
      .from(alertStates)
      .where(sql`${alertStates.key} like 'gateway_offline:%'`);
    const offline = new Set(states.map((s) => s.key.slice("gateway_offline:".length)));
    const silent = await db
      .select()
      .from(gateways)
      .where(and(lt(gateways.lastSeenAt, cutoff)));
    for (const gateway of silent.filter((g) => !offline.has(g.id))) {
      await inTransaction(db, async (tx) => {
        await tx
          .insert(alertStates)
          .values({ key: `gateway_offline:${gateway.id}`, since: now })
          .onConflictDoNothing();
        await recordAudit(tx, clock, {
          actor: SYSTEM_ACTOR,
          action: "gateway.offline",
          result: "failed",
          target: { type: "gateway", id: gateway.id },
          customerId: gateway.customerId,
          detail: {
            name: gateway.name,
            lastSeenAt: gateway.lastSeenAt?.toISOString() ?? null,
            thresholdMinutes: this.deps.gatewayOfflineMs / 60_000,
          },
        });
      });
    }
    if (offline.size === 0) return;
    const back = await db
      .select()
      .from(gateways)
      .where(and(inArray(gateways.id, [...offline]), or(gte(gateways.lastSeenAt, cutoff))));
    for (const gateway of back) {
      await db.delete(alertStates).where(eq(alertStates.key, `gateway_offline:${gateway.id}`));
      await recordAuditAlone(db, clock, {
        actor: SYSTEM_ACTOR,
        action: "gateway.reachable",
        target: { type: "gateway", id: gateway.id },
        customerId: gateway.customerId,
        detail: { name: gateway.name, lastSeenAt: gateway.lastSeenAt?.toISOString() ?? null },
      });
    }
  }
}
