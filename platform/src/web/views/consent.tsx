// Consent views: a site's consent policy, what a Connect asks for (services, minutes, ticket), the
// technician's request page whose state updates by itself, and the approvers' pending requests.
import type { FC } from "hono/jsx";
import type { Principal } from "../../access/index.ts";
import type { services } from "../../db/index.ts";
import {
  CONSENT_POLICY_LABELS,
  consentVersion,
  MAX_SESSION_MINUTES_LIMIT,
  REQUEST_EXPIRY_MINUTES_LIMIT,
} from "../../masterdata/index.ts";
import { endText, modbusService, type SessionView } from "../../sessions/index.ts";
import {
  ActionButton,
  DataTable,
  PortalPage,
  SelectField,
  SubmitForm,
  VersionField,
} from "./components.tsx";
import { Field, Notice, Time, Token } from "./layout.tsx";

/** The site page's consent card: the policy as text for everyone, its form for who manages it. */
export const ConsentCard: FC<{
  site: Parameters<typeof consentVersion>[0] & { id: string };
  /** MEETPOINT_REMOTE_SESSION_MINUTES: no session lasts longer, whatever the site says. */
  platformMaxMinutes: number;
  canManage: boolean;
  csrfToken: string;
}> = ({ site, platformMaxMinutes, canManage, csrfToken }) => (
  <>
    <h2>Consent policy</h2>
    <div class="card" id="consent-policy">
      <p>
        <strong>{CONSENT_POLICY_LABELS[site.consentPolicy]}</strong>. Sessions last at most{" "}
        {Math.min(site.maxSessionMinutes, platformMaxMinutes)} minutes
        {site.maxSessionMinutes > platformMaxMinutes
          ? ` (the platform's limit; the site allows ${site.maxSessionMinutes})`
          : ""}
        {site.consentPolicy !== "operator_connect"
          ? `; a request not decided within ${site.requestExpiryMinutes} minutes expires`
          : ""}
        .
      </p>
      {canManage ? (
        <SubmitForm
          action={`/sites/${site.id}/consent`}
          csrfToken={csrfToken}
          submit="Save consent policy"
          kind="secondary"
          row
        >
          <VersionField version={consentVersion(site)} />
          <SelectField
            label="Who must approve a technician's Connect"
            name="consentPolicy"
            options={Object.entries(CONSENT_POLICY_LABELS)}
            selected={site.consentPolicy}
          />
          <Field
            label="Longest session (minutes)"
            name="maxSessionMinutes"
            type="number"
            value={String(site.maxSessionMinutes)}
            min={1}
            max={MAX_SESSION_MINUTES_LIMIT}
          />
          <Field
            label="A request expires after (minutes)"
            name="requestExpiryMinutes"
            type="number"
            value={String(site.requestExpiryMinutes)}
            min={1}
            max={REQUEST_EXPIRY_MINUTES_LIMIT}
          />
        </SubmitForm>
      ) : null}
      <p class="muted">
        Where the operator at the machine approves, the request fills the gateway's Remote access
        page (Allow / Deny); a machine HMI can decide it through the gateway's local consent API,
        and a lamp can show that a request waits.
      </p>
    </div>
  </>
);

type Service = typeof services.$inferSelect;

/**
 * What a Connect may ask for besides its reason: a ticket, which services, how long, and the mode
 * (read-only is offered where a chosen service is Modbus/TCP; the platform checks every one).
 */
export const RequestFields: FC<{ enabled: Service[]; maxMinutes: number }> = (p) => (
  <>
    <Field label="Ticket (optional)" name="ticket" required={false} maxlength={64} />
    <input type="hidden" name="servicesChosen" value="1" />
    <fieldset>
      <legend>Services</legend>
      {p.enabled.map((s) => (
        <label class="check">
          <input type="checkbox" name={`service.${s.id}`} value="on" checked />
          {s.name} <Token>{`${s.protocol}/${s.port}`}</Token>
        </label>
      ))}
    </fieldset>
    {p.enabled.some(modbusService) ? (
      <fieldset>
        <legend>Mode</legend>
        <label class="check">
          <input type="radio" name="mode" value="full" checked />
          Full access
        </label>
        <label class="check">
          <input type="radio" name="mode" value="read_only" />
          Read-only: Modbus/TCP reads only, writes refused at the gateway (Modbus services only)
        </label>
      </fieldset>
    ) : null}
    <Field
      label={`Minutes (at most ${p.maxMinutes})`}
      name="minutes"
      type="number"
      value={String(p.maxMinutes)}
      min={1}
      max={p.maxMinutes}
    />
  </>
);

/** A request's mode as an approver reads it. */
export const ModeWords: FC<{ mode: "full" | "read_only" }> = ({ mode }) =>
  mode === "read_only" ? (
    <strong data-mode="read_only">read-only (Modbus reads only, writes refused)</strong>
  ) : (
    <span data-mode="full">full access</span>
  );

const REQUEST_WORDS: Record<string, string> = {
  pending: "waiting for approval",
  requested: "approved",
  active: "connected",
  ended: "ended",
};

/**
 * The state of a technician's request, polled every 3 s while it can still change: waiting (until
 * when), approved (by whom, with the button that issues the one-time .ovpn — to its technician
 * only, `own`), denied, expired.
 */
export const RequestStatus: FC<{
  session: SessionView;
  approver: string | null;
  csrfToken: string;
  own: boolean;
}> = ({ session: s, approver, csrfToken, own }) => {
  const waiting = s.state === "pending";
  return (
    <div
      id="request-status"
      data-request-state={s.state}
      hx-get={waiting ? `/requests/${s.id}/status` : undefined}
      hx-trigger={waiting ? "every 3s" : undefined}
      hx-swap={waiting ? "outerHTML" : undefined}
    >
      <p>
        State: <strong>{REQUEST_WORDS[s.state]}</strong>
        {s.endReason ? ` (${endText(s)})` : ""}
      </p>
      <p>
        Mode: <ModeWords mode={s.mode} />
      </p>
      {waiting && s.decideBy ? (
        <p class="muted">
          {WHO_DECIDES[s.consentPolicy]}
          {approver ? ` Approved so far by ${approver}.` : ""} The request expires at{" "}
          <Time at={s.decideBy} />. This page updates by itself.
        </p>
      ) : null}
      {s.approvedAt ? (
        <p>
          Approved by {approver ?? "an approver"} at <Time at={s.approvedAt} />; the session ends at{" "}
          <Time at={s.endsAt} />.
        </p>
      ) : null}
      {own && s.state === "requested" && s.profileIssuedAt === null ? (
        <SubmitForm
          action={`/requests/${s.id}/profile`}
          csrfToken={csrfToken}
          submit="Get my one-time connection file"
        />
      ) : null}
      {s.state === "requested" && s.profileIssuedAt !== null ? (
        <p class="muted">{own ? "Your" : "The"} one-time connection file was issued.</p>
      ) : null}
      {s.state === "ended" && s.endReason === "denied" ? (
        <Notice kind="error">
          {own ? "The request was denied: you get no access." : "The request was denied."}
        </Notice>
      ) : null}
      {s.state === "ended" && s.endReason === "request_expired" ? (
        <Notice kind="warn">Nobody decided the request in time: request access again.</Notice>
      ) : null}
    </div>
  );
};

/** One request's page: the technician's own ("Your request"), or an approver's view of it. */
export const RequestPage: FC<{
  session: SessionView;
  approver: string | null;
  principal: Principal;
  csrfToken: string;
}> = (p) => (
  <PortalPage title="Request" csrfToken={p.csrfToken} principal={p.principal}>
    <div class="card">
      <p>
        {p.session.technicianId === p.principal.userId ? "Your" : `${p.session.technicianName}'s`}{" "}
        request to <a href={`/machines/${p.session.machineId}`}>{p.session.machineName}</a>:{" "}
        {p.session.reason}
        {p.session.ticket ? ` (ticket ${p.session.ticket})` : ""}
      </p>
      <RequestStatus
        session={p.session}
        approver={p.approver}
        csrfToken={p.csrfToken}
        own={p.session.technicianId === p.principal.userId}
      />
    </div>
  </PortalPage>
);

/** Who decides a pending request, by the policy it was made under. */
const WHO_DECIDES: Record<SessionView["consentPolicy"], string> = {
  operator_connect: "",
  operator_approval: "The operator at the machine decides, on the gateway.",
  customer_approval: "A customer approver decides.",
  two_party: "The operator at the machine and a customer approver must both allow it.",
};

/**
 * Requests waiting for the caller's decision, with Allow and Deny — only Deny where the operator
 * at the machine alone allows (operator_approval).
 */
export const PendingRequests: FC<{ requests: SessionView[]; csrfToken: string }> = (p) =>
  p.requests.length === 0 ? null : (
    <>
      <h2>Requests waiting for your approval</h2>
      <DataTable
        head={["Machine", "Technician · reason", "Services · mode · minutes", "Expires", ""]}
        rows={p.requests}
        empty="No requests."
        row={(s) => (
          <tr data-request={s.id}>
            <td>
              <a href={`/machines/${s.machineId}`}>{s.machineName}</a>
            </td>
            <td>
              {s.technicianName}
              {s.technicianCompany ? <span data-company> ({s.technicianCompany})</span> : null} ·{" "}
              <span class="muted">{s.reason}</span>
              {s.ticket ? <div class="muted">ticket {s.ticket}</div> : null}
            </td>
            <td>
              {s.services.map((svc) => (
                <>
                  <Token>{`${svc.protocol}/${svc.port}`}</Token>{" "}
                </>
              ))}
              · <ModeWords mode={s.mode} /> · {(s.durationSeconds ?? 0) / 60} min
            </td>
            <td>{s.decideBy ? <Time at={s.decideBy} /> : null}</td>
            <td>
              {s.consentPolicy === "operator_approval" ? (
                <span class="muted">the operator at the machine allows </span>
              ) : (
                <ActionButton action={`/requests/${s.id}/approve`} csrfToken={p.csrfToken}>
                  Allow
                </ActionButton>
              )}
              <ActionButton action={`/requests/${s.id}/deny`} csrfToken={p.csrfToken} kind="danger">
                Deny
              </ActionButton>
            </td>
          </tr>
        )}
      />
    </>
  );
