// Identity providers for platform admins: the provider itself, its group → role mappings, and the
// MFA policy per role. Everything audited by the identity module.
import { Hono } from "hono";
import { ROLE_LABELS } from "../../access/index.ts";
import { ROLES } from "../../db/index.ts";
import {
  addMapping,
  createProvider,
  getProvider,
  listMappings,
  listProviders,
  mfaPolicyTable,
  providerVersion,
  removeMapping,
  setMfaPolicy,
  setProviderEnabled,
  updateProvider,
} from "../../identity/index.ts";
import { listCustomers } from "../../masterdata/index.ts";
import type { WebEnv } from "../env.ts";
import { formFields } from "../forms.ts";
import {
  ActionButton,
  DataTable,
  LinkCell,
  PortalPage,
  SubmitForm,
  trail,
} from "../views/components.tsx";
import { ProviderFields } from "../views/identity-providers.tsx";
import { Field } from "../views/layout.tsx";
import { PLATFORM_WIDE, RoleFields } from "../views/role-fields.tsx";

export function identityProviderRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/identity-providers", async (c) => {
    const ctx = c.get("ctx");
    const providers = await listProviders(ctx);
    const policies = await mfaPolicyTable(ctx.db);
    const csrf = c.get("csrfToken");
    return c.html(
      <PortalPage title="Identity providers" csrfToken={csrf} principal={ctx.caller.principal}>
        <DataTable
          head={["Provider", "Issuer", "State"]}
          empty="No identity provider yet: people sign in with local accounts. Add your company's provider below."
          rows={providers}
          row={(p) => (
            <tr>
              <LinkCell href={`/identity-providers/${p.id}`}>{p.displayName}</LinkCell>
              <td class="mono">{p.issuer}</td>
              <td>{p.enabled ? "enabled" : "disabled"}</td>
            </tr>
          )}
        />
        <div class="card">
          <h2>Add a provider</h2>
          <SubmitForm action="/identity-providers" csrfToken={csrf} submit="Add provider">
            <ProviderFields />
          </SubmitForm>
        </div>
        <div class="card">
          <h2>Second factor per role</h2>
          <p class="muted">
            "Provider" refuses a sign-in unless the provider asserted MFA (amr/acr). "Provider or
            TOTP" asks for Meetpoint's own TOTP code when it did not. The strictest policy of a
            user's roles applies.
          </p>
          {ROLES.map((role) => (
            <SubmitForm
              action="/identity-providers/mfa-policy"
              csrfToken={csrf}
              hidden={{ role }}
              submit="Save"
              kind="secondary"
              row
            >
              <span>{ROLE_LABELS[role]}</span>
              <select name="policy">
                <option value="provider_or_totp" selected={policies[role] === "provider_or_totp"}>
                  Provider or TOTP
                </option>
                <option value="provider" selected={policies[role] === "provider"}>
                  Provider must assert MFA
                </option>
              </select>
            </SubmitForm>
          ))}
        </div>
      </PortalPage>,
    );
  });

  app.post("/identity-providers", async (c) => {
    const ctx = c.get("ctx");
    const provider = await createProvider(ctx, c.get("deps").pki, await formFields(c));
    return c.redirect(`/identity-providers/${provider.id}`, 303);
  });

  app.post("/identity-providers/mfa-policy", async (c) => {
    await setMfaPolicy(c.get("ctx"), await formFields(c));
    return c.redirect("/identity-providers", 303);
  });

  app.get("/identity-providers/:id", async (c) => {
    const ctx = c.get("ctx");
    const deps = c.get("deps");
    const provider = await getProvider(ctx, c.req.param("id"));
    const mappings = await listMappings(ctx, provider.id);
    const customers = await listCustomers(ctx);
    const csrf = c.get("csrfToken");
    return c.html(
      <PortalPage
        title={provider.displayName}
        csrfToken={csrf}
        principal={ctx.caller.principal}
        crumbs={trail(provider.displayName, ["Identity providers", "/identity-providers"])}
      >
        <div class="card">
          <h2>Register Meetpoint at the provider</h2>
          <dl>
            <dt>Redirect URI</dt>
            <dd class="mono">{deps.oidc.clients.redirectUri(provider)}</dd>
            <dt>Post-logout redirect URI</dt>
            <dd class="mono">{deps.oidc.clients.signedOutUri}</dd>
            {provider.publicJwk ? (
              <>
                <dt>Public key (JWK) for private_key_jwt</dt>
                <dd class="mono">{JSON.stringify(provider.publicJwk)}</dd>
              </>
            ) : null}
          </dl>
        </div>
        <div class="card">
          <h2>Group mappings</h2>
          <DataTable
            head={["Group", "Role", "Customer", ""]}
            rows={mappings}
            row={({ mapping, customerName }) => (
              <tr>
                <td class="mono">{mapping.group}</td>
                <td>{ROLE_LABELS[mapping.role]}</td>
                <td>{customerName ?? PLATFORM_WIDE}</td>
                <td>
                  <ActionButton
                    action={`/identity-providers/${provider.id}/mappings/${mapping.id}/delete`}
                    csrfToken={csrf}
                    confirm="Remove this mapping? Users lose the role at their next sign-in."
                    kind="link"
                  >
                    Remove
                  </ActionButton>
                </td>
              </tr>
            )}
          />
          <SubmitForm
            action={`/identity-providers/${provider.id}/mappings`}
            csrfToken={csrf}
            submit="Add mapping"
            row
          >
            <Field
              label="Group"
              name="group"
              placeholder="acme-service-technicians"
              maxlength={200}
            />
            <RoleFields customers={customers} />
          </SubmitForm>
        </div>
        <div class="card">
          <h2>Settings</h2>
          <SubmitForm action={`/identity-providers/${provider.id}`} csrfToken={csrf} submit="Save">
            <ProviderFields provider={provider} version={providerVersion(provider)} />
          </SubmitForm>
          <ActionButton
            action={`/identity-providers/${provider.id}/enabled`}
            csrfToken={csrf}
            hidden={{ enabled: provider.enabled ? "false" : "true" }}
            kind="secondary"
          >
            {provider.enabled
              ? "Disable sign-in with this provider"
              : "Enable sign-in with this provider"}
          </ActionButton>
        </div>
      </PortalPage>,
    );
  });

  app.post("/identity-providers/:id", async (c) => {
    const provider = await updateProvider(
      c.get("ctx"),
      c.get("deps").pki,
      c.req.param("id"),
      await formFields(c),
    );
    return c.redirect(`/identity-providers/${provider.id}`, 303);
  });

  app.post("/identity-providers/:id/enabled", async (c) => {
    const form = await formFields(c);
    await setProviderEnabled(c.get("ctx"), c.req.param("id"), form.enabled === "true");
    return c.redirect(`/identity-providers/${c.req.param("id")}`, 303);
  });

  app.post("/identity-providers/:id/mappings", async (c) => {
    await addMapping(c.get("ctx"), c.req.param("id"), await formFields(c));
    return c.redirect(`/identity-providers/${c.req.param("id")}`, 303);
  });

  app.post("/identity-providers/:id/mappings/:mappingId/delete", async (c) => {
    await removeMapping(c.get("ctx"), c.req.param("id"), c.req.param("mappingId"));
    return c.redirect(`/identity-providers/${c.req.param("id")}`, 303);
  });

  return app;
}
