// Alert subscriptions: a user's own (they get alerts of what they may read), a customer's (made by
// its admins: alerts of that customer), or platform-wide (platform admins). Email or a signed
// webhook, whose HMAC key is shown once and kept sealed with the KEK.
import { encodeBase64urlNoPadding } from "@oslojs/encoding";
import { and, desc, eq, gt, inArray, isNull, or } from "drizzle-orm";
import { z } from "zod";
import {
  type Context,
  checkId,
  found,
  inScope,
  requirePermission,
  scopeOf,
} from "../access/index.ts";
import { recordAudit } from "../audit/index.ts";
import {
  ALERT_EVENTS,
  type AlertEvent,
  alertDeliveries,
  alertSubscriptions,
  inTransaction,
} from "../db/index.ts";
import { ForbiddenError, parseInput, ValidationError } from "../shared/index.ts";
import { CUSTOMER_EVENTS } from "./rules.ts";
import { checkWebhookUrl, type Resolver } from "./ssrf.ts";

export type Subscription = typeof alertSubscriptions.$inferSelect;

export interface SubscriptionDeps {
  sealSecret(label: string, text: string): Promise<string>;
  allowPrivate: boolean;
  resolve?: Resolver;
}

export const WEBHOOK_KEY_LABEL = "alert-webhook-key";

const input = z.object({
  scope: z.enum(["personal", "customer", "platform"], {
    error: "must be personal, customer or platform",
  }),
  customerId: z
    .string()
    .optional()
    .transform((v) => v || null),
  channel: z.enum(["email", "webhook"], { error: "must be email or webhook" }),
  target: z.string({ error: "is required" }).trim().min(1, "is required").max(500),
  events: z
    .array(z.enum(ALERT_EVENTS, { error: "is not an alert event" }))
    .min(1, "choose at least one event"),
});

/** Makes a subscription; for a webhook also returns its HMAC key, shown once. */
export async function subscribe(
  ctx: Context,
  deps: SubscriptionDeps,
  raw: unknown,
): Promise<{ subscription: Subscription; webhookKey: string | null }> {
  const values = parseInput(input, raw);
  const principal = ctx.caller.principal;
  if (values.scope === "customer") {
    if (!values.customerId) throw new ForbiddenError("Choose the customer the alerts are about.");
    requirePermission(ctx.caller, "masterdata.manage", checkId(values.customerId, "Customer"));
  }
  if (values.scope === "platform") requirePermission(ctx.caller, "customers.manage", null);
  // Only events the subscription can ever receive: a customer's, or those the user may see.
  const offered =
    values.scope === "customer" ? CUSTOMER_EVENTS : offeredEvents(ctx.caller.principal);
  const never = values.events.filter((e) => !offered.includes(e));
  if (never.length)
    throw new ValidationError(
      "events",
      `${never.join(", ")} concern${never.length === 1 ? "s" : ""} the whole platform, not a customer: ${values.scope === "customer" ? 'subscribe "for the whole platform" or "me"' : "you would never receive it"}`,
    );
  if (values.channel === "email")
    parseInput(z.object({ target: z.email({ error: "must be an email address" }) }), {
      target: values.target,
    });
  else await checkWebhookUrl(values.target, deps.allowPrivate, deps.resolve);
  const webhookKey =
    values.channel === "webhook"
      ? encodeBase64urlNoPadding(crypto.getRandomValues(new Uint8Array(32)))
      : null;
  const sealedSecret = webhookKey ? await deps.sealSecret(WEBHOOK_KEY_LABEL, webhookKey) : null;
  const subscription = await inTransaction(ctx.db, async (tx) => {
    const [row] = await tx
      .insert(alertSubscriptions)
      .values({
        userId: values.scope === "personal" ? principal.userId : null,
        customerId: values.scope === "customer" ? values.customerId : null,
        channel: values.channel,
        target: values.target,
        sealedSecret,
        events: values.events,
        createdBy: principal.userId,
      })
      .returning();
    const created = found(row, "Subscription");
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "alert.subscribe",
      target: { type: "alert_subscription", id: created.id },
      customerId: created.customerId,
      detail: {
        scope: values.scope,
        channel: values.channel,
        target: values.target,
        events: values.events,
      },
    });
    return created;
  });
  return { subscription, webhookKey };
}

/** The events a user may subscribe to for themselves: all when they see every customer. */
export function offeredEvents(principal: Context["caller"]["principal"]): readonly AlertEvent[] {
  return scopeOf(principal, "masterdata.read").all ? ALERT_EVENTS : CUSTOMER_EVENTS;
}

/** How the latest alert a subscription sent (or tried to) went. */
export interface DeliveryState {
  event: AlertEvent;
  state: "delivered" | "retrying" | "given up";
  /** Delivered or given up at; for one being retried, the next attempt. */
  at: Date;
  attempts: number;
  lastError: string | null;
}

/** The latest delivery with at least one attempt, per subscription id. */
export async function lastDeliveries(
  ctx: Context,
  subscriptionIds: string[],
): Promise<Map<string, DeliveryState>> {
  if (subscriptionIds.length === 0) return new Map();
  const rows = await ctx.db
    .selectDistinctOn([alertDeliveries.subscriptionId])
    .from(alertDeliveries)
    .where(
      and(
        inArray(alertDeliveries.subscriptionId, subscriptionIds),
        gt(alertDeliveries.attempts, 0),
      ),
    )
    .orderBy(alertDeliveries.subscriptionId, desc(alertDeliveries.createdAt));
  return new Map(
    rows.map((d) => [
      d.subscriptionId,
      {
        event: d.event,
        state: d.deliveredAt ? "delivered" : d.failedAt ? "given up" : "retrying",
        at: d.deliveredAt ?? d.failedAt ?? d.nextAttemptAt,
        attempts: d.attempts,
        lastError: d.deliveredAt ? null : d.lastError,
      },
    ]),
  );
}

/** The subscriptions a caller sees: their own, their customers' (as customer admin), all (platform admin). */
export async function listSubscriptions(ctx: Context): Promise<Subscription[]> {
  const manage = scopeOf(ctx.caller.principal, "masterdata.manage");
  const rows = await ctx.db
    .select()
    .from(alertSubscriptions)
    .where(
      manage.all
        ? undefined
        : or(
            eq(alertSubscriptions.userId, ctx.caller.principal.userId),
            and(
              isNull(alertSubscriptions.userId),
              isNull(alertSubscriptions.customerId),
              eq(alertSubscriptions.createdBy, ctx.caller.principal.userId),
            ),
          ),
    )
    .orderBy(desc(alertSubscriptions.createdAt));
  const customerRows = manage.all
    ? []
    : (await ctx.db.select().from(alertSubscriptions)).filter(
        (s) => s.customerId && s.userId === null && inScope(manage, s.customerId),
      );
  return [...rows, ...customerRows];
}

export async function unsubscribe(ctx: Context, id: string): Promise<void> {
  const subscription = found(
    (await listSubscriptions(ctx)).find((s) => s.id === checkId(id, "Subscription")),
    "Subscription",
  );
  await inTransaction(ctx.db, async (tx) => {
    await tx.delete(alertSubscriptions).where(eq(alertSubscriptions.id, subscription.id));
    await recordAudit(tx, ctx.clock, {
      actor: ctx.caller.actor,
      action: "alert.unsubscribe",
      target: { type: "alert_subscription", id: subscription.id },
      customerId: subscription.customerId,
      detail: { channel: subscription.channel, target: subscription.target },
    });
  });
}
