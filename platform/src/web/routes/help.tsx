// Help: the first-run guide (always, with what is done), what the states on the pages mean and
// who acts on each, the roles, and how times are written.
import { Hono } from "hono";
import { hasPermission, ROLE_LABELS } from "../../access/index.ts";
import { setupProgress } from "../../masterdata/index.ts";
import type { WebEnv } from "../env.ts";
import { PortalPage } from "../views/components.tsx";
import { FirstRunGuide } from "../views/first-run.tsx";

const STATES: [word: string, meaning: string][] = [
  [
    "online",
    "The operator at the machine allows remote access: technicians of the customer can press Connect.",
  ],
  [
    "connecting",
    "The operator pressed Connect; the gateway's data channel is coming up. Nobody needs to act.",
  ],
  [
    "cannot connect",
    "The operator pressed Connect, but the data channel does not come up; the gateway keeps retrying. The page names the reason and who must act: plant IT, the platform's operator, or nobody (wait).",
  ],
  [
    "off",
    "The operator has not pressed Connect (or a technician or an admin ended access): only the operator at the machine can allow access.",
  ],
  [
    "no contact",
    "The gateway has not reported for over a minute: its power, its network, or the plant's firewall.",
  ],
  [
    "not enrolled",
    "The gateway has never reported: its enrollment bundle has not been imported yet.",
  ],
];

export function helpRoutes() {
  const app = new Hono<WebEnv>();
  app.get("/help", async (c) => {
    const ctx = c.get("ctx");
    const principal = ctx.caller.principal;
    const progress = hasPermission(principal, "masterdata.manage")
      ? await setupProgress(ctx)
      : null;
    return c.html(
      <PortalPage title="Help" csrfToken={c.get("csrfToken")} principal={principal}>
        {progress ? <FirstRunGuide progress={progress} principal={principal} /> : null}
        <div class="card">
          <h2>What the gateway states mean</h2>
          <dl>
            {STATES.map(([word, meaning]) => (
              <>
                <dt>{word}</dt>
                <dd>{meaning}</dd>
              </>
            ))}
          </dl>
        </div>
        <div class="card">
          <h2>Roles</h2>
          <dl>
            <dt>{ROLE_LABELS.platform_admin}</dt>
            <dd>Everything: customers, users and roles, the CA, the platform's status.</dd>
            <dt>{ROLE_LABELS.customer_admin}</dt>
            <dd>Sites, gateways, machines and services of their customers; ends sessions there.</dd>
            <dt>{ROLE_LABELS.technician}</dt>
            <dd>
              Sees their customers' machines and connects to them while the operator allows it.
            </dd>
            <dt>{ROLE_LABELS.auditor}</dt>
            <dd>Reads everything, the audit log included; changes nothing.</dd>
          </dl>
          <p class="muted">
            Your roles: {principal.grants.map((g) => ROLE_LABELS[g.role]).join(", ") || "none yet"}.
            Roles are granted by a platform admin (Users), or by your company's identity provider.
          </p>
        </div>
        <div class="card">
          <h2>Times</h2>
          <p>
            Every time is written in ISO 8601 in UTC, to the second:{" "}
            <span class="token">2026-11-30T09:45:12Z</span> is 09:45:12 UTC on 30 November 2026.
          </p>
        </div>
      </PortalPage>,
    );
  });
  return app;
}
