// Alerts: subscriptions (per user, per customer, platform-wide), events from the audit log, delivery
// by email (SMTP, STARTTLS) and signed webhooks (HMAC-SHA256, replay window) with retries.
export { Alerts, type AlertsDeps, backoffMs, MAX_ATTEMPTS } from "./dispatcher.ts";
export { createMailer, type Mailer, type MailSettings } from "./email.ts";
export { type AlertPayload, CUSTOMER_EVENTS, EVENT_LABELS } from "./rules.ts";
export {
  checkWebhookTarget,
  checkWebhookUrl,
  type Resolver,
  specialRange,
  type WebhookTarget,
} from "./ssrf.ts";
export {
  type DeliveryState,
  lastDeliveries,
  listSubscriptions,
  offeredEvents,
  type Subscription,
  type SubscriptionDeps,
  subscribe,
  unsubscribe,
} from "./subscriptions.ts";
export {
  pinnedRequest,
  postWebhook,
  SIGNATURE_HEADER,
  signatureHeader,
  verifySignature,
} from "./webhook.ts";
