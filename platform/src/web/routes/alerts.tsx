// Alert subscriptions in the portal: one's own (email or webhook), a customer's (its admins), or
// platform-wide (platform admins); a webhook's signing key is shown once.
import { Hono } from "hono";
import { hasPermission, scopeOf } from "../../access/index.ts";
import { EVENT_LABELS, listSubscriptions, subscribe, unsubscribe } from "../../alerts/index.ts";
import { ALERT_EVENTS } from "../../db/index.ts";
import { listCustomers } from "../../masterdata/index.ts";
import type { WebEnv } from "../env.ts";
import {
  ActionButton,
  DataTable,
  PortalPage,
  SecretValue,
  SelectField,
  ShownOnceCard,
  SubmitForm,
  trail,
} from "../views/components.tsx";
import { Field } from "../views/layout.tsx";

export function alertRoutes(options: { allowPrivate: boolean }) {
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
    return c.html(
      <PortalPage title="Alerts" csrfToken={csrf} principal={principal}>
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
              {ALERT_EVENTS.map((event) => (
                <label class="check">
                  <input type="checkbox" name="events" value={event} /> {EVENT_LABELS[event]}
                </label>
              ))}
            </fieldset>
          </SubmitForm>
        </div>
        <DataTable
          head={["For", "By", "To", "Events", ""]}
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
    c.header("Cache-Control", "no-store");
    return c.html(
      <PortalPage
        title="Webhook added"
        csrfToken={c.get("csrfToken")}
        principal={ctx.caller.principal}
        crumbs={trail("Webhook", ["Alerts", "/alerts"])}
      >
        <ShownOnceCard
          notice="The webhook's signing key, shown only now: the receiver checks each request's Meetpoint-Signature with it (README, Alerts)."
          continueHref="/alerts"
          continueLabel="Back to the alerts"
        >
          <dl>
            <dt>HMAC-SHA256 key</dt>
            <SecretValue value={webhookKey} />
          </dl>
        </ShownOnceCard>
      </PortalPage>,
    );
  });

  app.post("/alerts/:id/delete", async (c) => {
    await unsubscribe(c.get("ctx"), c.req.param("id"));
    return c.redirect("/alerts", 303);
  });

  return app;
}
