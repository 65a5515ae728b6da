// The sign-in page: the configured identity providers first, local accounts where enabled.
import { Field, Layout, Notice, PostForm } from "./layout.tsx";

export function signInPage(props: {
  csrfToken: string;
  providers: { slug: string; displayName: string }[];
  localSignIn: boolean;
  error?: string;
  username?: string;
}) {
  return (
    <Layout title="Sign in" csrfToken={props.csrfToken}>
      <div class="card narrow">
        <h1>Sign in</h1>
        {props.error ? <Notice kind="error">{props.error}</Notice> : null}
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
            <PostForm action="/sign-in" csrfToken={props.csrfToken}>
              <Field
                label="Username"
                name="username"
                value={props.username ?? ""}
                autocomplete="username"
              />
              <Field
                label="Password"
                name="password"
                type="password"
                autocomplete="current-password"
              />
              <button type="submit">Sign in</button>
            </PostForm>
          </>
        ) : null}
        {!props.localSignIn && props.providers.length === 0 ? (
          <Notice kind="warn">No way to sign in is configured: ask your administrator.</Notice>
        ) : null}
      </div>
    </Layout>
  );
}
