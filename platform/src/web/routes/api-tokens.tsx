// The admin API in the portal: the caller's API tokens (made with a role no wider than their own,
// shown once, revocable) and the API's OpenAPI document, browsable.
import { Hono } from "hono";
import { grantProblem, grantsWithin, hasPermission, ROLE_LABELS } from "../../access/index.ts";
import {
  type ApiTokenView,
  createApiToken,
  listApiTokens,
  openApiDocument,
  revokeApiToken,
} from "../../api/index.ts";
import { ROLES } from "../../db/index.ts";
import { listUsers } from "../../identity/index.ts";
import { listCustomers } from "../../masterdata/index.ts";
import type { WebEnv } from "../env.ts";
import { formFields } from "../forms.ts";
import { signedIn } from "../middleware.ts";
import { keepForOneShowing } from "../reveals.ts";
import { ApiDocsPage, type ApiDocument } from "../views/api-docs.tsx";
import { ActionButton, DataTable, FormCard, PortalPage } from "../views/components.tsx";
import { Field, Time } from "../views/layout.tsx";
import { RoleFields } from "../views/role-fields.tsx";

function StateOf({ token, now }: { token: ApiTokenView; now: Date }) {
  if (token.revokedAt)
    return (
      <>
        revoked <Time at={token.revokedAt} />
      </>
    );
  if (token.expiresAt <= now) return <>expired</>;
  return (
    <>
      valid until <Time at={token.expiresAt} />
    </>
  );
}

export function apiTokenRoutes(options: { maxDays: number }) {
  const app = new Hono<WebEnv>();

  app.get("/account/api-tokens", async (c) => {
    const ctx = c.get("ctx");
    const csrf = c.get("csrfToken");
    const principal = ctx.caller.principal;
    const tokens = await listApiTokens(ctx);
    const admin = hasPermission(principal, "users.manage");
    // Offered only what a token of this user may carry: no role or customer beyond their own.
    const customers = (await listCustomers(ctx)).filter((cu) =>
      ROLES.some((role) => grantsWithin(principal, [{ role, customerId: cu.id }])),
    );
    const roles = ROLES.filter((role) =>
      [null, ...customers.map((cu) => cu.id)].some(
        (customerId) =>
          grantProblem({ role, customerId }) === null &&
          grantsWithin(principal, [{ role, customerId }]),
      ),
    );
    // Whose each token is: an admin sees everyone's.
    const names = new Map(
      admin
        ? (await listUsers(ctx)).map((u) => [u.id, u.username])
        : [[principal.userId, principal.username]],
    );
    const creator = (t: ApiTokenView) => names.get(t.userId) ?? t.userId;
    const now = ctx.clock.now();
    return c.html(
      <PortalPage title="API tokens" csrfToken={csrf} principal={ctx.caller.principal}>
        <p>
          Programs use the admin API at <code>/api/v1</code> with a token:{" "}
          <code>Authorization: Bearer mpt_…</code>. A token carries one role, no wider than yours;
          every use is in the audit log. <a href="/api-docs">What the API offers</a>.
        </p>
        {roles.length === 0 ? (
          <p class="notice" id="no-token-roles">
            Your role holds for one site only, and a token carries a role for a whole customer: none
            can be made for you. A customer admin or platform admin makes tokens for programs.
          </p>
        ) : (
          <FormCard action="/account/api-tokens" csrfToken={csrf} submit="Create token">
            <Field label="Name" name="name" placeholder="ticket system" maxlength={100} />
            <Field
              label={`Valid for (days, at most ${options.maxDays})`}
              name="days"
              value="90"
              type="number"
              min={1}
              max={options.maxDays}
              inputmode="numeric"
            />
            <RoleFields customers={customers} roles={roles} />
            {admin ? (
              <Field
                label="Service account (optional)"
                name="serviceAccount"
                placeholder="erp-sync"
                required={false}
              />
            ) : null}
          </FormCard>
        )}
        <DataTable
          head={["Token", "Acts as", "Role", "State", "Last used", ""]}
          empty="No API tokens yet: create one above for a program that uses the admin API."
          rows={tokens}
          row={(t) => (
            <tr>
              <td>{t.name}</td>
              <td>
                {t.serviceAccount
                  ? `service:${t.serviceAccount} (made by ${creator(t)})`
                  : creator(t)}
              </td>
              <td>{t.grants.map((g) => ROLE_LABELS[g.role]).join(", ")}</td>
              <td>
                <StateOf token={t} now={now} />
              </td>
              <td>{t.lastUsedAt ? <Time at={t.lastUsedAt} /> : "never"}</td>
              <td>
                {t.revokedAt ? null : (
                  <ActionButton
                    action={`/account/api-tokens/${t.id}/revoke`}
                    csrfToken={csrf}
                    confirm={`Revoke ${t.name}? Programs using it stop working at once.`}
                    kind="link"
                  >
                    revoke
                  </ActionButton>
                )}
              </td>
            </tr>
          )}
        />
      </PortalPage>,
    );
  });

  app.post("/account/api-tokens", async (c) => {
    const ctx = c.get("ctx");
    const form = await formFields(c);
    const { token, view } = await createApiToken(
      ctx,
      {
        name: form.name,
        days: form.days,
        grants: [{ role: form.role, customerId: form.customerId || null }],
        serviceAccount: form.serviceAccount || undefined,
      },
      options.maxDays,
    );
    const shown = await keepForOneShowing(c.get("deps"), signedIn(c).id, "api_token", {
      name: view.name,
      token,
    });
    return c.redirect(shown, 303);
  });

  app.post("/account/api-tokens/:id/revoke", async (c) => {
    await revokeApiToken(c.get("ctx"), c.req.param("id"));
    return c.redirect("/account/api-tokens", 303);
  });

  // The OpenAPI document, as a page: every operation with its parameters and answers.
  const document = openApiDocument() as unknown as ApiDocument;
  app.get("/api-docs", (c) =>
    c.html(
      <ApiDocsPage
        document={document}
        csrfToken={c.get("csrfToken")}
        principal={c.get("ctx").caller.principal}
      />,
    ),
  );

  return app;
}
