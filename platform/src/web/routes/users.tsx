// Users and roles: platform admins create accounts, grant and revoke roles, disable and reset.
import { Hono, type Context as HonoContext } from "hono";
import { ROLE_LABELS } from "../../access/index.ts";
import {
  COMPANY_MAX,
  createUser,
  getUser,
  grantRole,
  listUsers,
  resetSignIn,
  revokeRole,
  setUserDisabled,
  type UserSummary,
  updateUser,
} from "../../identity/index.ts";
import { listCustomers, listSites } from "../../masterdata/index.ts";
import { NAME_MAX } from "../../shared/index.ts";
import type { WebEnv } from "../env.ts";
import { formFields } from "../forms.ts";
import { signedIn } from "../middleware.ts";
import { keepForOneShowing } from "../reveals.ts";
import {
  ActionButton,
  Actions,
  DataTable,
  FormCard,
  LinkCell,
  PortalPage,
  trail,
} from "../views/components.tsx";
import { Field, Notice } from "../views/layout.tsx";
import { RoleFields } from "../views/role-fields.tsx";

function grantLabel(grant: UserSummary["grants"][number]): string {
  const where = [grant.customerName, grant.siteName].filter(Boolean).join(" · ");
  return where ? `${ROLE_LABELS[grant.role]} · ${where}` : ROLE_LABELS[grant.role];
}

export function userRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/users", async (c) => {
    const ctx = c.get("ctx");
    const users = await listUsers(ctx);
    const csrf = c.get("csrfToken");
    return c.html(
      <PortalPage title="Users" csrfToken={csrf} principal={ctx.caller.principal}>
        <FormCard action="/users" csrfToken={csrf} submit="Add user">
          <Field
            label="Username"
            name="username"
            placeholder="jdoe"
            pattern="[a-zA-Z0-9][a-zA-Z0-9._@\-]{1,63}"
            maxlength={64}
            hint="2–64 characters: letters, digits, . _ @ -"
          />
          <Field label="Full name" name="displayName" placeholder="Jane Doe" maxlength={NAME_MAX} />
          <Field
            label="Company (optional)"
            name="company"
            placeholder="Acme Service GmbH"
            required={false}
            maxlength={COMPANY_MAX}
            hint="Shown to approvers with the person's name"
          />
        </FormCard>
        <DataTable
          head={["User", "Name", "Company", "Roles", "State"]}
          rows={users}
          row={(u) => (
            <tr>
              <LinkCell href={`/users/${u.id}`}>{u.username}</LinkCell>
              <td>{u.displayName}</td>
              <td>{u.company ?? <span class="muted">not recorded</span>}</td>
              <td>{u.grants.map(grantLabel).join(", ") || <span class="muted">none</span>}</td>
              <td>{u.disabled ? "disabled" : u.totpEnrolled ? "active" : "not yet signed in"}</td>
            </tr>
          )}
        />
      </PortalPage>,
    );
  });

  /** The one-time password is kept for one showing at /once/<id>, where the POST redirects. */
  const showPasswordOnce = async (
    c: HonoContext<WebEnv>,
    user: Pick<UserSummary, "id" | "username" | "displayName">,
    password: string,
    title: string,
  ) => {
    const shown = await keepForOneShowing(c.get("deps"), signedIn(c).id, "user_password", {
      title,
      user: { id: user.id, username: user.username, displayName: user.displayName },
      password,
    });
    return c.redirect(shown, 303);
  };

  app.post("/users", async (c) => {
    const { user, password } = await createUser(c.get("ctx"), await formFields(c));
    return showPasswordOnce(c, user, password, "User created");
  });

  app.get("/users/:id", async (c) => {
    const ctx = c.get("ctx");
    const user = await getUser(ctx, c.req.param("id"));
    const customers = await listCustomers(ctx);
    const sites = await listSites(ctx);
    const csrf = c.get("csrfToken");
    return c.html(
      <PortalPage
        title={user.username}
        csrfToken={csrf}
        principal={ctx.caller.principal}
        crumbs={trail(user.username, ["Users", "/users"])}
        heading={
          <>
            {user.displayName} <span class="muted">({user.username})</span>
          </>
        }
      >
        {user.disabled ? <Notice kind="warn">This account is disabled.</Notice> : null}
        <h2>Details</h2>
        <FormCard action={`/users/${user.id}`} csrfToken={csrf} submit="Save">
          <Field
            label="Full name"
            name="displayName"
            value={user.displayName}
            maxlength={NAME_MAX}
          />
          <Field
            label="Company (optional)"
            name="company"
            value={user.company ?? ""}
            required={false}
            maxlength={COMPANY_MAX}
            hint="Shown to approvers with the person's name; an identity provider's company claim replaces it at sign-in"
          />
        </FormCard>
        <h2>Roles</h2>
        <DataTable
          rows={user.grants}
          row={(g) => (
            <tr>
              <td>{grantLabel(g)}</td>
              <td>
                <ActionButton
                  action={`/users/${user.id}/roles/${g.id}/delete`}
                  csrfToken={csrf}
                  confirm={`Remove ${grantLabel(g)}?`}
                  kind="link"
                >
                  remove
                </ActionButton>
              </td>
            </tr>
          )}
          empty="No roles: this user can sign in but sees nothing. Grant a role below."
        />
        <FormCard action={`/users/${user.id}/roles`} csrfToken={csrf} submit="Grant role">
          <RoleFields customers={customers} sites={sites} />
        </FormCard>
        <Actions>
          <ActionButton
            action={`/users/${user.id}/reset`}
            csrfToken={csrf}
            confirm="Set a new one-time password and require a new second factor?"
            kind="secondary"
          >
            Reset sign-in
          </ActionButton>
          <ActionButton
            action={`/users/${user.id}/${user.disabled ? "enable" : "disable"}`}
            csrfToken={csrf}
            kind={user.disabled ? "secondary" : "danger"}
          >
            {user.disabled ? "Enable account" : "Disable account"}
          </ActionButton>
        </Actions>
      </PortalPage>,
    );
  });

  app.post("/users/:id", async (c) => {
    const id = c.req.param("id");
    await updateUser(c.get("ctx"), id, await formFields(c));
    return c.redirect(`/users/${id}`, 303);
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
    return showPasswordOnce(c, await getUser(ctx, c.req.param("id")), password, "Sign-in reset");
  });

  return app;
}
