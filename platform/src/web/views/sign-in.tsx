// The sign-in pages: the configured identity providers first, local accounts where enabled; the
// second factor, the password change and the TOTP enrolment; the hop back from a provider.
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "@meetpoint/common";
import type { Principal } from "../../access/index.ts";
import { ErrorNotice, NarrowPage, SubmitForm } from "./components.tsx";
import { Field, Layout, Notice } from "./layout.tsx";

/** The field of a 6-digit TOTP code and its submit button, posting to `action`. */
function TotpForm(props: { action: string; csrfToken: string; submit: string }) {
  return (
    <SubmitForm action={props.action} csrfToken={props.csrfToken} submit={props.submit}>
      <Field
        label="Code"
        name="code"
        inputmode="numeric"
        pattern="[0-9]{6}"
        autocomplete="one-time-code"
      />
    </SubmitForm>
  );
}

/** A password input; `autocomplete` tells password managers whether it is the current or a new one. */
function PasswordField(props: {
  label: string;
  name: string;
  autocomplete: "current-password" | "new-password";
  error?: string;
  minlength?: number;
}) {
  return (
    <Field
      label={props.label}
      name={props.name}
      type="password"
      autocomplete={props.autocomplete}
      maxlength={MAX_PASSWORD_LENGTH}
      minlength={props.minlength}
      error={props.error}
    />
  );
}

export function signInPage(props: {
  csrfToken: string;
  providers: { slug: string; displayName: string }[];
  localSignIn: boolean;
  error?: string;
  username?: string;
}) {
  return (
    <NarrowPage title="Sign in" csrfToken={props.csrfToken}>
      <ErrorNotice message={props.error} />
      {props.providers.length ? (
        <div class="providers">
          {props.providers.map((p) => (
            <a class="button" href={`/sign-in/oidc/${p.slug}`} hx-boost="false">
              Sign in with {p.displayName}
            </a>
          ))}
        </div>
      ) : null}
      {props.localSignIn ? (
        <>
          {props.providers.length ? <p class="muted">Or with a local account:</p> : null}
          <SubmitForm action="/sign-in" csrfToken={props.csrfToken} submit="Sign in">
            <Field
              label="Username"
              name="username"
              value={props.username ?? ""}
              autocomplete="username"
            />
            <PasswordField label="Password" name="password" autocomplete="current-password" />
          </SubmitForm>
        </>
      ) : null}
      {!props.localSignIn && props.providers.length === 0 ? (
        <Notice kind="warn">No way to sign in is configured: ask your administrator.</Notice>
      ) : null}
    </NarrowPage>
  );
}

/** The second step of a local sign-in: the TOTP code. */
export function secondFactorPage(props: { csrfToken: string; error?: string }) {
  return (
    <NarrowPage title="Second factor" csrfToken={props.csrfToken}>
      <p>Enter the 6-digit code from your authenticator app.</p>
      <ErrorNotice message={props.error} />
      <TotpForm action="/sign-in/totp" csrfToken={props.csrfToken} submit="Continue" />
    </NarrowPage>
  );
}

/**
 * The password change: forced after a one-time password, or chosen (then with the portal's menu).
 * The whole rule is listed before anything is typed; a refusal stands beside its field, naming
 * every part of the rule the new password breaks.
 */
export function changePasswordPage(props: {
  csrfToken: string;
  forced: boolean;
  rules: string[];
  error?: { message: string; field?: "current" | "next"; problems?: string[] };
  principal?: Principal;
}) {
  const { error } = props;
  const at = (field: "current" | "next") =>
    error?.field === field
      ? field === "next" && error.problems
        ? `New password ${error.problems.join("; ")}.`
        : error.message
      : undefined;
  return (
    <NarrowPage title="Change password" csrfToken={props.csrfToken} principal={props.principal}>
      {props.forced ? (
        <Notice kind="warn">Choose your own password before you continue.</Notice>
      ) : null}
      {error && !error.field ? <ErrorNotice message={error.message} /> : null}
      <p>A new password needs:</p>
      <ul class="rules" id="password-rules">
        {props.rules.map((rule) => (
          <li>{rule}</li>
        ))}
      </ul>
      <SubmitForm action="/account/password" csrfToken={props.csrfToken} submit="Change password">
        <PasswordField
          label="Current password"
          name="current"
          autocomplete="current-password"
          error={at("current")}
        />
        <PasswordField
          label="New password"
          name="next"
          autocomplete="new-password"
          minlength={MIN_PASSWORD_LENGTH}
          error={at("next")}
        />
      </SubmitForm>
    </NarrowPage>
  );
}

/** TOTP enrolment: the key as a QR code (an SVG) and for typing, then a first code to confirm it. */
export function enrolTotpPage(props: {
  csrfToken: string;
  qrSvg: string;
  keyForTyping: string;
  error?: string;
}) {
  return (
    <NarrowPage
      title="Set up second factor"
      heading="Set up your second factor"
      csrfToken={props.csrfToken}
    >
      <p>
        Scan this code with an authenticator app (for example FreeOTP, Aegis or Google
        Authenticator), then enter the code it shows.
      </p>
      <img
        class="qr"
        alt="QR code for your authenticator app"
        src={`data:image/svg+xml;base64,${Buffer.from(props.qrSvg).toString("base64")}`}
      />
      <p class="muted">
        Cannot scan? Type this key: <span class="mono">{props.keyForTyping}</span>
      </p>
      <ErrorNotice message={props.error} />
      <TotpForm action="/account/totp" csrfToken={props.csrfToken} submit="Confirm" />
    </NarrowPage>
  );
}

/**
 * After a provider's callback: continue to `next` from a page of our own, since a redirect would
 * still belong to the provider's cross-site navigation (which does not carry SameSite=Strict cookies).
 */
export function signedInPage(next: string) {
  return (
    <Layout title="Signed in" csrfToken="">
      <meta http-equiv="refresh" content={`0;url=${next}`} />
      <div class="card narrow">
        <p>
          Signed in. <a href={next}>Continue</a>
        </p>
      </div>
    </Layout>
  );
}
