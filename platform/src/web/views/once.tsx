// Pages of secrets shown once: a new user's one-time password, and what every later visit of
// such an address gets instead.
import type { Principal } from "../../access/index.ts";
import { PortalPage, SecretValue, ShownOnceCard } from "./components.tsx";
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

/** Any later visit of a shown-once address (reload, Back, another browser, expired). */
export function SeenOncePage(props: { csrfToken: string; principal: Principal }) {
  return (
    <PortalPage title="Shown once" csrfToken={props.csrfToken} principal={props.principal}>
      <div class="card">
        <Notice kind="warn">
          You saw this once. One-time passwords, gateway secrets, enrollment bundles and connection
          files are shown on one page only and are not kept, so they cannot be shown again.
        </Notice>
        <p>
          To get a new one: reset the user's sign-in, re-key the gateway, or press Connect on the
          machine again.
        </p>
      </div>
    </PortalPage>
  );
}
