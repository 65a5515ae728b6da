/** @jsxImportSource hono/jsx */
// The consent screen: while a technician's request waits for the operator (consent policies
// operator_approval and two_party), it fills the Remote access page — who, company, why, ticket,
// services, duration, mode, the time left to decide — with Allow and Deny. Oldest first; the
// count says how many more wait. Plain forms (work without JS); the 2 s poll keeps it current.
import type { PendingRequest } from "@meetpoint/common";
import { escapeFormatCharacters as shown } from "@meetpoint/common";
import { Time, Token } from "./views.tsx";

/** What the page says after a decision (the POST redirects with its outcome). */
export const DECISION_WORDS: Record<string, string> = {
  granted: "Allowed: the technician may connect now.",
  approved_partly:
    "Allowed here: the technician gets access once a customer approver allows it in the portal too.",
  already_approved: "This request was allowed already: nothing changed.",
  denied: "Denied: the technician gets no access.",
  already_denied: "This request was denied already: nothing changed.",
};

/** "12 min 5 s" from seconds (≥ 0). */
export function durationText(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return (
    [h ? `${h} h` : "", m ? `${m} min` : "", !h && rest ? `${rest} s` : ""]
      .filter(Boolean)
      .join(" ")
      .trim() || "0 s"
  );
}

function modeText(request: PendingRequest): string {
  const modes = new Set(request.services.map((s) => s.mode));
  if (modes.size === 1 && modes.has("full")) return "full access";
  if (modes.size === 1 && modes.has("modbus-read-only")) return "read-only (Modbus reads only)";
  return "mixed: see each service";
}

export function ConsentScreen(props: {
  request: PendingRequest;
  waiting: number;
  now: Date;
  csrf: string;
}) {
  const r = props.request;
  const left = (new Date(r.decideBy).getTime() - props.now.getTime()) / 1000;
  return (
    <div class="card consent-request" data-request={r.id} role="alertdialog">
      <h1>Remote access requested</h1>
      <p class="act">
        A technician asks to reach this machine. Allow only if you expect them.
        {r.policy === "two_party"
          ? " A customer approver must allow it in the portal as well."
          : ""}
        {r.customerApproved ? " The customer approver has allowed it already." : ""}
      </p>
      <dl>
        <dt>Technician</dt>
        <dd data-field="technician">{shown(r.technician)}</dd>
        <dt>Company</dt>
        <dd data-field="company">{r.company === null ? "not recorded" : shown(r.company)}</dd>
        <dt>Why</dt>
        <dd data-field="reason">{shown(r.reason)}</dd>
        <dt>Ticket</dt>
        <dd data-field="ticket">{r.ticket === null ? "none" : shown(r.ticket)}</dd>
        <dt>Machine</dt>
        <dd data-field="machine">{shown(r.machine)}</dd>
        <dt>Services</dt>
        <dd data-field="services">
          {r.services.map((x, i) => (
            <>
              {i > 0 ? ", " : ""}
              {shown(x.name)}{" "}
              <Token>
                ({x.protocol}/{x.port})
              </Token>
            </>
          ))}
        </dd>
        <dt>Duration</dt>
        <dd>{durationText(r.durationSeconds)} from the approval</dd>
        <dt>Mode</dt>
        <dd>{modeText(r)}</dd>
        <dt>Decide by</dt>
        <dd>
          <Time at={r.decideBy} /> —{" "}
          <span data-field="expires-in">expires in {durationText(left)}</span>
        </dd>
      </dl>
      <div class="buttons">
        <form method="post" action={`/requests/${r.id}/allow`} hx-boost="false">
          <input type="hidden" name="_csrf" value={props.csrf} />
          <button class="big connect" type="submit">
            Allow
          </button>
        </form>
        <form method="post" action={`/requests/${r.id}/deny`} hx-boost="false">
          <input type="hidden" name="_csrf" value={props.csrf} />
          <button class="big disconnect" type="submit">
            Deny
          </button>
        </form>
      </div>
      {props.waiting > 1 ? (
        <p class="muted">{props.waiting - 1} more request(s) wait after this one (oldest first).</p>
      ) : null}
    </div>
  );
}
