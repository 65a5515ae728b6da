// Pages of secrets shown once: a new user's one-time password, an API token, a webhook's key,
// and what every later visit of such an address gets instead.
import type { Principal } from "../../access/index.ts";
import { PortalPage, SecretValue, ShownOnceCard, trail } from "./components.tsx";
import { Notice } from "./layout.tsx";

/** The one showing of a user's one-time password (after creating the user or resetting sign-in). */
export function UserPasswordPage(props: {
  title: string;
  user: { id: string; username: string; displayName: string };
  password: string;
  csrfToken: string;
  principal: Principal;
}) {
  const { user } = props;
  return (
    <PortalPage title={props.title} csrfToken={props.csrfToken} principal={props.principal}>
      <ShownOnceCard
        notice={
          <>
            Give this one-time password to {user.displayName} over a separate channel. It is shown
            only now; they must change it and set up a second factor at first sign-in.
          </>
        }
        continueHref={`/users/${user.id}`}
        continueLabel="Continue to the user"
      >
        <dl>
          <dt>Username</dt>
          <dd class="mono">{user.username}</dd>
          <dt>Password</dt>
          <SecretValue value={props.password} />
        </dl>
      </ShownOnceCard>
    </PortalPage>
  );
}

/** The one showing of a new API token (only its hash is kept). */
export function ApiTokenPage(props: {
  name: string;
  token: string;
  csrfToken: string;
  principal: Principal;
}) {
  return (
    <PortalPage
      title="API token created"
      csrfToken={props.csrfToken}
      principal={props.principal}
      crumbs={trail("New token", ["API tokens", "/account/api-tokens"])}
    >
      <ShownOnceCard
        notice="Copy the token now: it is shown only this once and stored only as a hash."
        continueHref="/account/api-tokens"
        continueLabel="Back to the tokens"
      >
        <dl>
          <dt>{props.name}</dt>
          <SecretValue value={props.token} />
        </dl>
      </ShownOnceCard>
    </PortalPage>
  );
}

/** The one showing of a new webhook's signing key (kept sealed for the deliveries only). */
export function WebhookKeyPage(props: {
  target: string;
  signingKey: string;
  csrfToken: string;
  principal: Principal;
}) {
  return (
    <PortalPage
      title="Webhook added"
      csrfToken={props.csrfToken}
      principal={props.principal}
      crumbs={trail("Webhook", ["Alerts", "/alerts"])}
    >
      <ShownOnceCard
        notice="The webhook's signing key, shown only now: the receiver checks each request's Meetpoint-Signature with it (README, Alerts)."
        continueHref="/alerts"
        continueLabel="Back to the alerts"
      >
        <dl>
          <dt>Webhook</dt>
          <dd class="mono">{props.target}</dd>
          <dt>HMAC-SHA256 key</dt>
          <SecretValue value={props.signingKey} />
        </dl>
      </ShownOnceCard>
    </PortalPage>
  );
}

/** Any later visit of a shown-once address (reload, Back, another browser, expired). */
export function SeenOncePage(props: { csrfToken: string; principal: Principal }) {
  return (
    <PortalPage title="Shown once" csrfToken={props.csrfToken} principal={props.principal}>
      <div class="card">
        <Notice kind="warn">
          You saw this once. One-time passwords, gateway secrets, enrollment bundles, connection
          files, API tokens and webhook keys are shown on one page only and are not kept, so they
          cannot be shown again.
        </Notice>
        <p>
          To get a new one: reset the user's sign-in, re-key the gateway, press Connect on the
          machine again, or make a new token or webhook (and remove the old one).
        </p>
      </div>
    </PortalPage>
  );
}
