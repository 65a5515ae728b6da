// The CA status page: fingerprints, validity, what each CA issued; CA rotation for platform admins.
import { Hono } from "hono";
import { hasPermission } from "../../access/index.ts";
import { CRL_VALIDITY_MS } from "../../pki/index.ts";
import { ForbiddenError } from "../../shared/index.ts";
import type { WebEnv } from "../env.ts";
import { ActionButton, Actions, DataTable, PortalPage } from "../views/components.tsx";
import { Time } from "../views/layout.tsx";

const minutes = (seconds: number) => `${Math.round(seconds / 60)} min`;
const hours = (seconds: number) => `${Math.round(seconds / 3600)} h`;

export function pkiRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/pki", async (c) => {
    const principal = c.get("ctx").caller.principal;
    if (!hasPermission(principal, "pki.read")) throw new ForbiddenError();
    const deps = c.get("deps");
    const authorities = await deps.pki.status();
    const policy = deps.pki.policy;
    const csrf = c.get("csrfToken");
    return c.html(
      <PortalPage title="Certificate authority" csrfToken={csrf} principal={principal}>
        <div class="card">
          <dl>
            <dt>Technician certificates</dt>
            <dd>
              one connection each, opened within {minutes(policy.technicianSeconds)} of the
              download; it then lives until its remote session ends (at most{" "}
              {minutes(deps.access.remoteSessionSeconds)})
            </dd>
            <dt>Gateway certificates</dt>
            <dd>
              one connection each, opened within {minutes(policy.gatewaySeconds)}; it then lives as
              long as its data channel (renewed after {hours(policy.dataChannelSeconds)})
            </dd>
            <dt>Clock allowance</dt>
            <dd>certificates start {policy.clockSkewSeconds} s in the past</dd>
            <dt>Revocation list</dt>
            <dd>renewed at every revocation, valid {CRL_VALIDITY_MS / 60_000} min</dd>
          </dl>
        </div>
        <DataTable
          head={["CA", "State", "Valid", "Issued", "Spent", "Revoked", "Valid now"]}
          rows={authorities}
          row={(ca) => (
            <tr>
              <td>
                <div>{ca.subject}</div>
                <div class="mono muted">SHA-256 {ca.fingerprint}</div>
              </td>
              <td>
                {ca.active
                  ? "active (signs)"
                  : ca.trusted
                    ? "previous (still verifies)"
                    : "retired"}
              </td>
              <td>
                <Time at={ca.notBefore} /> – <Time at={ca.notAfter} />
              </td>
              <td>{ca.counts.issued}</td>
              <td>{ca.counts.spent}</td>
              <td>{ca.counts.revoked}</td>
              <td>{ca.counts.valid}</td>
            </tr>
          )}
        />
        {hasPermission(principal, "pki.manage") ? (
          <Actions>
            <ActionButton
              action="/pki/rotate"
              csrfToken={csrf}
              confirm="Introduce a new CA? It signs from now on; the current one keeps verifying until its certificates expire. Gateways must be re-keyed to pin the new CA."
              kind="secondary"
            >
              Introduce a new CA
            </ActionButton>
          </Actions>
        ) : null}
      </PortalPage>,
    );
  });

  app.post("/pki/rotate", async (c) => {
    const ctx = c.get("ctx");
    if (!hasPermission(ctx.caller.principal, "pki.manage")) throw new ForbiddenError();
    await c.get("deps").pki.rotateCa(ctx.caller.actor);
    return c.redirect("/pki", 303);
  });

  return app;
}
