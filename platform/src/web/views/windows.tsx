// Maintenance-window views: a site's window settings, and a gateway's windows page (the list, which
// refreshes itself while a window is open or upcoming, the create form and Cancel).
import type { FC } from "hono/jsx";
import type { Principal } from "../../access/index.ts";
import type { WindowCreators } from "../../db/index.ts";
import { windowPolicyVersion } from "../../masterdata/index.ts";
import { type MaintenanceWindow, windowState } from "../../sessions/index.ts";
import {
  ActionButton,
  PortalPage,
  SelectField,
  SubmitForm,
  trail,
  VersionField,
} from "./components.tsx";
import { Field, Notice, Time } from "./layout.tsx";

const CREATORS: Record<WindowCreators, string> = {
  operator: "Only the operator, on the gateway's screen",
  operator_and_customer: "The operator, and customer approvers in the portal",
};

/** The site page's window card: who may create windows and whether they may overlap. */
export const WindowPolicyCard: FC<{
  site: Parameters<typeof windowPolicyVersion>[0] & { id: string };
  canManage: boolean;
  csrfToken: string;
}> = ({ site, canManage, csrfToken }) => (
  <>
    <h2>Maintenance windows</h2>
    <div class="card" id="window-policy">
      <p>
        Who creates windows: <strong>{CREATORS[site.windowCreators]}</strong>. Windows of one
        gateway {site.windowsMayOverlap ? "may" : "may not"} overlap. Each gateway's windows are on
        its page (Maintenance windows).
      </p>
      {canManage ? (
        <SubmitForm
          action={`/sites/${site.id}/windows`}
          csrfToken={csrfToken}
          submit="Save window settings"
          kind="secondary"
          row
        >
          <VersionField version={windowPolicyVersion(site)} />
          <SelectField
            label="Who creates maintenance windows"
            name="windowCreators"
            options={Object.entries(CREATORS)}
            selected={site.windowCreators}
          />
          <label>
            <input type="checkbox" name="windowsMayOverlap" checked={site.windowsMayOverlap} />
            <span>Windows may overlap</span>
          </label>
        </SubmitForm>
      ) : null}
    </div>
  </>
);

const STATE_WORDS = {
  open: "open now",
  upcoming: "upcoming",
  over: "over",
  cancelled: "cancelled",
} as const;

/** The windows table; polls itself every 5 s so "open now" and the ends show without a reload. */
export const WindowsTable: FC<{
  gatewayId: string;
  windows: MaintenanceWindow[];
  names: Record<string, string>;
  now: Date;
  /** Whether the caller may cancel windows created in the portal. */
  canCancel: boolean;
  csrfToken: string;
}> = (p) => (
  <div
    id="windows"
    hx-get={`/gateways/${p.gatewayId}/windows/list`}
    hx-trigger="every 5s"
    hx-swap="outerHTML"
  >
    <table>
      <thead>
        <tr>
          <th>State</th>
          <th>Start (UTC)</th>
          <th>End (UTC)</th>
          <th>Repeats</th>
          <th>Technicians</th>
          <th>Services</th>
          <th>Mode</th>
          <th>Why</th>
          <th>Created by</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {p.windows.length === 0 ? (
          <tr>
            <td colspan={10} class="muted">
              No maintenance windows.
            </td>
          </tr>
        ) : null}
        {p.windows.map((w) => {
          const state = windowState(w, p.now);
          return (
            <tr data-window={w.id} data-window-state={state}>
              <td>{STATE_WORDS[state]}</td>
              <td>
                <Time at={w.startsAt} />
              </td>
              <td>
                <Time at={w.endsAt} />
              </td>
              <td>{w.weekly ? "weekly" : "once"}</td>
              <td>
                {w.technicianIds.length
                  ? w.technicianIds.map((id) => p.names[id] ?? id).join(", ")
                  : "every technician of the customer"}
              </td>
              <td>
                {w.serviceIds.length
                  ? w.serviceIds.map((id) => p.names[id] ?? id).join(", ")
                  : "all enabled"}
              </td>
              <td>{w.mode === "read_only" ? "read-only" : "full"}</td>
              <td>{w.reason}</td>
              <td>
                {w.createdByName} ({w.origin === "gateway" ? "gateway screen" : "portal"})
              </td>
              <td>
                {state !== "cancelled" &&
                state !== "over" &&
                p.canCancel &&
                w.origin === "portal" ? (
                  <ActionButton
                    action={`/gateways/${p.gatewayId}/windows/${w.id}/cancel`}
                    csrfToken={p.csrfToken}
                    kind="danger"
                    confirm="Cancel this window? Its sessions end now."
                  >
                    Cancel
                  </ActionButton>
                ) : null}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  </div>
);

/** A gateway's windows page: the table, and the create form where the site lets the caller. */
export const WindowsPage: FC<{
  gateway: { id: string; name: string; siteId: string; siteName?: string };
  table: Parameters<typeof WindowsTable>[0];
  mayCreate: boolean;
  whyNot: string | null;
  technicians: { id: string; name: string }[];
  services: { id: string; name: string }[];
  principal: Principal;
  csrfToken: string;
}> = (p) => (
  <PortalPage
    title={`Maintenance windows — ${p.gateway.name}`}
    csrfToken={p.csrfToken}
    principal={p.principal}
    crumbs={trail("Maintenance windows", [p.gateway.name, `/gateways/${p.gateway.id}`])}
  >
    <p>
      Inside an open window a matching technician's request is approved at once, the gateway arms
      its data channel at the start and disarms it at the end, and every session of the window is
      cut at its end. Times are UTC.
    </p>
    <WindowsTable {...p.table} />
    <h2>New window</h2>
    {p.mayCreate ? (
      <div class="card">
        <SubmitForm
          action={`/gateways/${p.gateway.id}/windows`}
          csrfToken={p.csrfToken}
          submit="Create window"
        >
          <Field label="Start (UTC)" name="start" type="datetime-local" />
          <Field label="End (UTC)" name="end" type="datetime-local" />
          <label>
            <input type="checkbox" name="weekly" />
            <span>Repeat weekly (until cancelled)</span>
          </label>
          <fieldset>
            <legend>Technicians (none ticked: every technician of the customer)</legend>
            {p.technicians.map((t) => (
              <label>
                <input type="checkbox" name={`technician.${t.id}`} />
                <span>{t.name}</span>
              </label>
            ))}
          </fieldset>
          <fieldset>
            <legend>Services (none ticked: every enabled service)</legend>
            {p.services.map((s) => (
              <label>
                <input type="checkbox" name={`service.${s.id}`} />
                <span>{s.name}</span>
              </label>
            ))}
          </fieldset>
          <SelectField
            label="Mode"
            name="mode"
            options={[
              ["full", "Full"],
              ["read_only", "Read-only (Modbus services marked read-only)"],
            ]}
            selected="full"
          />
          <Field label="What it is for" name="reason" />
        </SubmitForm>
      </div>
    ) : (
      <Notice kind="warn">{p.whyNot}</Notice>
    )}
  </PortalPage>
);
