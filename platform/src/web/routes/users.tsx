// Users and roles: platform admins create accounts, grant and revoke roles, disable and reset.
import { Hono, type Context as HonoContext } from "hono";
import { ROLE_LABELS } from "../../access/index.ts";
import {
  createUser,
  getUser,
  grantRole,
  listUsers,
  resetSignIn,
  revokeRole,
  setUserDisabled,
  type UserSummary,
} from "../../identity/index.ts";
import { listCustomers } from "../../masterdata/index.ts";
import type { WebEnv } from "../env.ts";
import { formFields } from "../forms.ts";
import { Breadcrumbs, Field, Layout, Notice, PostForm } from "../views/layout.tsx";
import { RoleFields } from "../views/role-fields.tsx";

function grantLabel(grant: UserSummary["grants"][number]): string {
  return grant.customerName
    ? `${ROLE_LABELS[grant.role]} · ${grant.customerName}`
    : ROLE_LABELS[grant.role];
}

export function userRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/users", async (c) => {
    const ctx = c.get("ctx");
    const users = await listUsers(ctx);
    const csrf = c.get("csrfToken");
    return c.html(
      <Layout title="Users" csrfToken={csrf} principal={ctx.caller.principal}>
        <h1>Users</h1>
        <div class="card">
          <PostForm action="/users" csrfToken={csrf} class="row">
            <Field label="Username" name="username" placeholder="jdoe" />
            <Field label="Full name" name="displayName" placeholder="Jane Doe" />
            <button type="submit">Add user</button>
          </PostForm>
        </div>
        <table>
          <thead>
            <tr>
              <th>User</th>
              <th>Name</th>
              <th>Roles</th>
              <th>State</th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr>
                <td>
                  <a href={`/users/${u.id}`}>{u.username}</a>
                </td>
                <td>{u.displayName}</td>
                <td>{u.grants.map(grantLabel).join(", ") || <span class="muted">none</span>}</td>
                <td>{u.disabled ? "disabled" : u.totpEnrolled ? "active" : "not yet signed in"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Layout>,
    );
  });

  const passwordPage = (
    c: HonoContext<WebEnv>,
    user: UserSummary,
    password: string,
    title: string,
  ) => {
    c.header("Cache-Control", "no-store");
    return c.html(
      <Layout
        title={title}
        csrfToken={c.get("csrfToken")}
        principal={c.get("ctx").caller.principal}
      >
        <h1>{title}</h1>
        <div class="card">
          <Notice kind="warn">
            Give this one-time password to {user.displayName} over a separate channel. It is shown
            only now; they must change it and set up a second factor at first sign-in.
          </Notice>
          <dl>
            <dt>Username</dt>
            <dd class="mono">{user.username}</dd>
            <dt>Password</dt>
            <dd>
              <div class="secret">{password}</div>
            </dd>
          </dl>
          <p>
            <a href={`/users/${user.id}`}>Continue to the user</a>
          </p>
        </div>
      </Layout>,
    );
  };

  app.post("/users", async (c) => {
    const { user, password } = await createUser(c.get("ctx"), await formFields(c));
    return passwordPage(c, user, password, "User created");
  });

  app.get("/users/:id", async (c) => {
    const ctx = c.get("ctx");
    const user = await getUser(ctx, c.req.param("id"));
    const customers = await listCustomers(ctx);
    const csrf = c.get("csrfToken");
    return c.html(
      <Layout title={user.username} csrfToken={csrf} principal={ctx.caller.principal}>
        <Breadcrumbs
          items={[
            ["Users", "/users"],
            [user.username, null],
          ]}
        />
        <h1>
          {user.displayName} <span class="muted">({user.username})</span>
        </h1>
        {user.disabled ? <Notice kind="warn">This account is disabled.</Notice> : null}
        <h2>Roles</h2>
        <table>
          <tbody>
            {user.grants.map((g) => (
              <tr>
                <td>{grantLabel(g)}</td>
                <td>
                  <PostForm
                    action={`/users/${user.id}/roles/${g.id}/delete`}
                    csrfToken={csrf}
                    confirm={`Remove ${grantLabel(g)}?`}
                  >
                    <button type="submit" class="link">
                      remove
                    </button>
                  </PostForm>
                </td>
              </tr>
            ))}
            {user.grants.length === 0 ? (
              <tr>
                <td class="muted">No roles: this user can sign in but sees nothing.</td>
              </tr>
            ) : null}
          </tbody>
        </table>
        <div class="card">
          <PostForm action={`/users/${user.id}/roles`} csrfToken={csrf} class="row">
            <RoleFields customers={customers} />
            <button type="submit">Grant role</button>
          </PostForm>
        </div>
        <div class="actions">
          <PostForm
            action={`/users/${user.id}/reset`}
            csrfToken={csrf}
            confirm="Set a new one-time password and require a new second factor?"
          >
            <button type="submit" class="secondary">
              Reset sign-in
            </button>
          </PostForm>
          <PostForm
            action={`/users/${user.id}/${user.disabled ? "enable" : "disable"}`}
            csrfToken={csrf}
          >
            <button type="submit" class={user.disabled ? "secondary" : "danger"}>
              {user.disabled ? "Enable account" : "Disable account"}
            </button>
          </PostForm>
        </div>
      </Layout>,
    );
  });

  app.post("/users/:id/roles", async (c) => {
    const id = c.req.param("id");
    await grantRole(c.get("ctx"), id, await formFields(c));
    return c.redirect(`/users/${id}`, 303);
  });

  app.post("/users/:id/roles/:grantId/delete", async (c) => {
    const id = c.req.param("id");
    await revokeRole(c.get("ctx"), id, c.req.param("grantId"));
    return c.redirect(`/users/${id}`, 303);
  });

  app.post("/users/:id/disable", async (c) => {
    const id = c.req.param("id");
    await setUserDisabled(c.get("ctx"), id, true);
    return c.redirect(`/users/${id}`, 303);
  });

  app.post("/users/:id/enable", async (c) => {
    const id = c.req.param("id");
    await setUserDisabled(c.get("ctx"), id, false);
    return c.redirect(`/users/${id}`, 303);
  });

  app.post("/users/:id/reset", async (c) => {
    const ctx = c.get("ctx");
    const password = await resetSignIn(ctx, c.req.param("id"));
    return passwordPage(c, await getUser(ctx, c.req.param("id")), password, "Sign-in reset");
  });

  return app;
}
