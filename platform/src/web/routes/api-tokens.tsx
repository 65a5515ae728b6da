// The admin API in the portal: the caller's API tokens (made with a role no wider than their own,
// shown once, revocable) and the API's OpenAPI document, browsable.
import { Hono } from "hono";
import { hasPermission, ROLE_LABELS } from "../../access/index.ts";
import {
  type ApiTokenView,
  createApiToken,
  listApiTokens,
  openApiDocument,
  revokeApiToken,
} from "../../api/index.ts";
import { listCustomers } from "../../masterdata/index.ts";
import type { WebEnv } from "../env.ts";
import { formFields } from "../forms.ts";
import {
  ActionButton,
  DataTable,
  FormCard,
  PortalPage,
  SecretValue,
  ShownOnceCard,
  trail,
} from "../views/components.tsx";
import { Field, Notice, Time } from "../views/layout.tsx";
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
    const tokens = await listApiTokens(ctx);
    const customers = await listCustomers(ctx);
    const admin = hasPermission(ctx.caller.principal, "users.manage");
    const now = ctx.clock.now();
    return c.html(
      <PortalPage title="API tokens" csrfToken={csrf} principal={ctx.caller.principal}>
        <p>
          Programs use the admin API at <code>/api/v1</code> with a token:{" "}
          <code>Authorization: Bearer mpt_…</code>. A token carries one role, no wider than yours;
          every use is in the audit log. <a href="/api-docs">What the API offers</a>.
        </p>
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
          <RoleFields customers={customers} />
          {admin ? (
            <Field
              label="Service account (optional)"
              name="serviceAccount"
              placeholder="erp-sync"
            />
          ) : null}
        </FormCard>
        <DataTable
          head={["Token", "Acts as", "Role", "State", "Last used", ""]}
          empty="No API tokens yet: create one above for a program that uses the admin API."
          rows={tokens}
          row={(t) => (
            <tr>
              <td>{t.name}</td>
              <td>{t.serviceAccount ? `service:${t.serviceAccount}` : "its creator"}</td>
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
    c.header("Cache-Control", "no-store");
    return c.html(
      <PortalPage
        title="API token created"
        csrfToken={c.get("csrfToken")}
        principal={ctx.caller.principal}
        crumbs={trail("New token", ["API tokens", "/account/api-tokens"])}
      >
        <ShownOnceCard
          notice="Copy the token now: it is shown only this once and stored only as a hash."
          continueHref="/account/api-tokens"
          continueLabel="Back to the tokens"
        >
          <dl>
            <dt>{view.name}</dt>
            <SecretValue value={token} />
          </dl>
        </ShownOnceCard>
      </PortalPage>,
    );
  });

  app.post("/account/api-tokens/:id/revoke", async (c) => {
    await revokeApiToken(c.get("ctx"), c.req.param("id"));
    return c.redirect("/account/api-tokens", 303);
  });

  // The OpenAPI document, as a page: every operation with its parameters and answers.
  const document = openApiDocument();
  app.get("/api-docs", (c) => {
    const ctx = c.get("ctx");
    const paths = Object.entries(document.paths ?? {});
    return c.html(
      <PortalPage title="Admin API" csrfToken={c.get("csrfToken")} principal={ctx.caller.principal}>
        <Notice kind="ok">
          {document.info.description ?? ""} The machine-readable document:{" "}
          <a href="/api/v1/openapi.json" hx-boost="false">
            /api/v1/openapi.json
          </a>{" "}
          (OpenAPI {document.openapi}).
        </Notice>
        <DataTable
          head={["Method", "Path", "Parameters", "Body", "Answers"]}
          rows={paths.flatMap(([path, item]) =>
            (["get", "post", "patch", "delete"] as const)
              .filter((m) => item?.[m])
              .map((m) => ({ path, method: m, op: item?.[m] })),
          )}
          row={({ path, method, op }) => (
            <tr>
              <td class="mono">{method.toUpperCase()}</td>
              <td class="mono">/api/v1{path}</td>
              <td>
                {(op?.parameters ?? [])
                  .map((p) => ("name" in p ? `${p.name} (${p.in})` : ""))
                  .join(", ")}
              </td>
              <td>
                {op?.requestBody && "content" in op.requestBody
                  ? Object.keys(op.requestBody.content).join(", ")
                  : ""}
              </td>
              <td>
                {Object.entries(op?.responses ?? {})
                  .map(([status, r]) => `${status} ${"description" in r ? r.description : ""}`)
                  .join("; ")}
              </td>
            </tr>
          )}
        />
      </PortalPage>,
    );
  });

  return app;
}
