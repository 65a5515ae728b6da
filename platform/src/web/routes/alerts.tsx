// Alert subscriptions in the portal: one's own (email or webhook), a customer's (its admins), or
// platform-wide (platform admins); a webhook's signing key is shown once.
import { Hono } from "hono";
import { hasPermission, scopeOf } from "../../access/index.ts";
import {
  CUSTOMER_EVENTS,
  type DeliveryState,
  EVENT_LABELS,
  lastDeliveries,
  listSubscriptions,
  offeredEvents,
  subscribe,
  unsubscribe,
} from "../../alerts/index.ts";
import { listCustomers } from "../../masterdata/index.ts";
import type { WebEnv } from "../env.ts";
import { signedIn } from "../middleware.ts";
import { keepForOneShowing } from "../reveals.ts";
import {
  ActionButton,
  DataTable,
  PortalPage,
  SelectField,
  SubmitForm,
} from "../views/components.tsx";
import { Field, formatTime, Notice } from "../views/layout.tsx";

function deliveryText(d: DeliveryState | undefined): string {
  if (!d) return "nothing sent yet";
  const what = EVENT_LABELS[d.event];
  if (d.state === "delivered") return `delivered ${formatTime(d.at)}: ${what}`;
  const error = d.lastError ? ` — ${d.lastError}` : "";
  if (d.state === "given up")
    return `FAILED, given up ${formatTime(d.at)} after ${d.attempts} attempts: ${what}${error}`;
  return `FAILING, attempt ${d.attempts}, next ${formatTime(d.at)}: ${what}${error}`;
}

/** `emailConfigured`: a mail server is set (MEETPOINT_SMTP_URL); without one no email is sent. */
export function alertRoutes(options: { allowPrivate: boolean; emailConfigured: boolean }) {
  const app = new Hono<WebEnv>();

  app.get("/alerts", async (c) => {
    const ctx = c.get("ctx");
    const csrf = c.get("csrfToken");
    const principal = ctx.caller.principal;
    const manage = scopeOf(principal, "masterdata.manage");
    const customers = (await listCustomers(ctx)).filter(
      (cu) => manage.all || manage.customerIds.includes(cu.id),
    );
    const scopes: [string, string][] = [["personal", "Me (what I may see)"]];
    if (customers.length) scopes.push(["customer", "A customer (its events)"]);
    if (hasPermission(principal, "customers.manage") && manage.all)
      scopes.push(["platform", "The whole platform"]);
    const subscriptions = await listSubscriptions(ctx);
    const deliveries = await lastDeliveries(
      ctx,
      subscriptions.map((s) => s.id),
    );
    const events = offeredEvents(principal);
    const unsent = (channel: string) => channel === "email" && !options.emailConfigured;
    return c.html(
      <PortalPage title="Alerts" csrfToken={csrf} principal={principal}>
        {options.emailConfigured ? null : (
          <Notice kind="warn">
            No mail server is configured (MEETPOINT_SMTP_URL): email alerts are not sent until the
            platform's operator sets one. Webhooks work without it.
          </Notice>
        )}
        <div class="card">
          <SubmitForm action="/alerts" csrfToken={csrf} submit="Subscribe">
            <SelectField label="For" name="scope" options={scopes} />
            {customers.length ? (
              <SelectField
                label="Customer"
                name="customerId"
                options={[["", "—"], ...customers.map((cu): [string, string] => [cu.id, cu.name])]}
              />
            ) : null}
            <SelectField
              label="By"
              name="channel"
              options={[
                ["email", "Email"],
                ["webhook", "Webhook (signed)"],
              ]}
            />
            <Field
              label="Address or URL"
              name="target"
              placeholder="soc@plant.example or https://hooks.example/meetpoint"
              maxlength={500}
            />
            <fieldset>
              <legend>Events</legend>
              {events.map((event) => (
                <label class="check">
                  <input type="checkbox" name="events" value={event} /> {EVENT_LABELS[event]}
                  {CUSTOMER_EVENTS.includes(event) ? null : " (platform-wide: not for a customer)"}
                </label>
              ))}
            </fieldset>
          </SubmitForm>
        </div>
        <DataTable
          head={["For", "By", "To", "Events", "Last delivery", ""]}
          empty="No subscriptions yet: subscribe above to be told by email or webhook."
          rows={subscriptions}
          row={(s) => (
            <tr>
              <td>
                {s.userId
                  ? "personal"
                  : s.customerId
                    ? `customer ${customers.find((cu) => cu.id === s.customerId)?.name ?? s.customerId}`
                    : "platform"}
              </td>
              <td>{s.channel}</td>
              <td class="mono">{s.target}</td>
              <td>{s.events.map((e) => EVENT_LABELS[e]).join(", ")}</td>
              <td>
                {unsent(s.channel)
                  ? "not sent: no mail server configured"
                  : deliveryText(deliveries.get(s.id))}
              </td>
              <td>
                <ActionButton
                  action={`/alerts/${s.id}/delete`}
                  csrfToken={csrf}
                  confirm="Remove this subscription?"
                  kind="link"
                >
                  remove
                </ActionButton>
              </td>
            </tr>
          )}
        />
      </PortalPage>,
    );
  });

  app.post("/alerts", async (c) => {
    const ctx = c.get("ctx");
    const body = await c.req.parseBody({ all: true });
    const events = ([] as unknown[])
      .concat(body.events ?? [])
      .filter((e): e is string => typeof e === "string");
    const field = (name: string) => (typeof body[name] === "string" ? (body[name] as string) : "");
    const { pki } = c.get("deps");
    const { webhookKey } = await subscribe(
      ctx,
      {
        sealSecret: (label, text) => pki.sealSecret(label, text),
        allowPrivate: options.allowPrivate,
      },
      {
        scope: field("scope"),
        customerId: field("customerId"),
        channel: field("channel"),
        target: field("target"),
        events,
      },
    );
    if (!webhookKey) return c.redirect("/alerts", 303);
    const shown = await keepForOneShowing(c.get("deps"), signedIn(c).id, "webhook_key", {
      target: field("target").trim(),
      key: webhookKey,
    });
    return c.redirect(shown, 303);
  });

  app.post("/alerts/:id/delete", async (c) => {
    await unsubscribe(c.get("ctx"), c.req.param("id"));
    return c.redirect("/alerts", 303);
  });

  return app;
}
