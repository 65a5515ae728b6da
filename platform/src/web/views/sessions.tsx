// Remote-session views: the data plane's state, the session table, and the remote-access card of a
// machine file.
import type { FC } from "hono/jsx";
import { inScope, type Principal, scopeOf } from "../../access/index.ts";
import type { ConsentPolicy, services } from "../../db/index.ts";
import { mayReadReport } from "../../reports/index.ts";
import { type DataPlaneStatus, endText, type SessionView } from "../../sessions/index.ts";
import {
  ActionButton,
  DataTable,
  DownloadLink,
  PortalPage,
  SubmitForm,
  trail,
} from "./components.tsx";
import { RequestFields } from "./consent.tsx";
import { HttpProxyFields } from "./http-proxy.tsx";
import { Field, Notice, Time, Token } from "./layout.tsx";
import { type Reach, ReachText } from "./reach.tsx";

const STATE_LABELS = {
  pending: "waiting for approval",
  requested: "waiting for the technician's client",
  active: "connected",
  ended: "ended",
} as const;

/** A warning when remote access is off on this platform; nothing when it is on. */
export const DataPlaneNotice: FC<{ status: DataPlaneStatus }> = ({ status }) =>
  status.on ? null : (
    <Notice kind="warn">Remote access is off on this platform: {status.reason}.</Notice>
  );

/** Sessions as a table; Disconnect (own) or Terminate (as manager) where the caller may end them. */
export const SessionTable: FC<{
  sessions: SessionView[];
  principal: Principal;
  csrfToken: string;
}> = ({ sessions, principal, csrfToken }) => (
  <DataTable
    head={["Machine", "Technician · reason", "State", "Times", "Traffic", ""]}
    rows={sessions}
    empty="No remote sessions."
    row={(s) => (
      <tr>
        <td>
          <a href={s.machineId ? `/machines/${s.machineId}` : `/gateways/${s.gatewayId}`}>
            {s.machineName}
          </a>
        </td>
        <td>
          {s.technicianName} · <span class="muted">{s.reason}</span>
        </td>
        <td>
          <span class={`badge ${s.state === "ended" ? "" : "ok"}`}>{STATE_LABELS[s.state]}</span>
          {s.endReason ? (
            <div class="muted" data-end-reason={s.endReason}>
              {endText(s)}
            </div>
          ) : null}
          {s.mode === "read_only" ? <div class="muted">read-only (Modbus reads only)</div> : null}
          {s.state === "pending" && s.technicianId === principal.userId ? (
            <div>
              <a href={`/requests/${s.id}`}>your request</a>
            </div>
          ) : null}
        </td>
        <td>
          <div>
            requested <Time at={s.requestedAt} />
          </div>
          {s.endedAt ? (
            <div>
              ended <Time at={s.endedAt} />
            </div>
          ) : s.state === "pending" && s.decideBy ? (
            <div>
              expires <Time at={s.decideBy} /> unless decided
            </div>
          ) : (
            <div>
              cut at <Time at={s.endsAt} />
            </div>
          )}
        </td>
        <td>
          <div class="mono">
            {s.services.map((svc) => (
              <>
                <Token>
                  {svc.protocol}/{svc.port}
                </Token>
                {svc.mode === "modbus-read-only" ? " (read-only Modbus)" : ""}{" "}
              </>
            ))}
          </div>
          <div class="muted">
            {s.bytesIn} B in · {s.bytesOut} B out
          </div>
          {s.flowEvidence?.map((e) => (
            <div class="muted mono">
              <Token>
                {e.protocol}/{e.port}
              </Token>
              : {e.packets === null ? "counters missing" : `${e.packets} packets, ${e.bytes} B`}
            </div>
          ))}
          <ModbusEvidenceLines session={s} />
        </td>
        <td>
          {s.state === "ended" && mayReadReport(principal, s) ? (
            <a href={`/sessions/${s.id}/report`}>Transparency report</a>
          ) : null}
          {s.state !== "ended" &&
          (s.technicianId === principal.userId ||
            // A pending request is decided with Allow / Deny, not terminated.
            (s.state !== "pending" &&
              inScope(scopeOf(principal, "sessions.manage"), s.customerId, s.siteId))) ? (
            <ActionButton
              action={`/sessions/${s.id}/disconnect`}
              csrfToken={csrfToken}
              confirm="End this remote session now?"
              kind="danger"
            >
              {s.technicianId !== principal.userId
                ? "Terminate"
                : s.state === "pending"
                  ? "Withdraw"
                  : "Disconnect"}
            </ActionButton>
          ) : null}
        </td>
      </tr>
    )}
  />
);

/**
 * The card on the machine file: where the gateway stands (the real state: off, connecting since…,
 * online since…, cannot connect: reason, and who must act), Connect when it is possible, this
 * machine's sessions.
 */
export const RemoteAccessCard: FC<{
  machineId: string;
  /** The machine's enabled services the technician may choose among. */
  enabled: (typeof services.$inferSelect)[];
  site: { consentPolicy: ConsentPolicy; maxSessionMinutes: number };
  /** MEETPOINT_REMOTE_SESSION_MINUTES: no site allows longer. */
  platformMaxMinutes: number;
  reach: Reach | null;
  mayConnect: boolean;
  dataPlane: DataPlaneStatus;
  sessions: SessionView[];
  principal: Principal;
  csrfToken: string;
}> = (p) => (
  <>
    <h2>Remote access</h2>
    <DataPlaneNotice status={p.dataPlane} />
    <div class="card" id="remote-access">
      {p.reach ? <ReachText reach={p.reach} /> : null}
      {p.mayConnect && p.reach?.kind === "online" && p.dataPlane.on ? (
        <SubmitForm
          action={`/machines/${p.machineId}/connect`}
          csrfToken={p.csrfToken}
          submit={p.site.consentPolicy === "operator_connect" ? "Connect" : "Request access"}
          row
        >
          {p.site.consentPolicy === "operator_connect" ? null : (
            <p class="muted">
              At this site{" "}
              {
                {
                  operator_approval: "the operator at the machine allows each request",
                  customer_approval: "a customer approver allows each request",
                  two_party:
                    "both the operator at the machine and a customer approver allow each request",
                }[p.site.consentPolicy]
              }
              : you get the connection file once it is approved.
            </p>
          )}
          <Field
            label="Reason (ticket, fault) — shown to the operator and logged"
            name="reason"
            placeholder="e.g. ticket 4711, axis 3 fault"
            minlength={3}
            maxlength={REASON_MAX}
          />
          <RequestFields
            enabled={p.enabled}
            maxMinutes={Math.min(p.site.maxSessionMinutes, p.platformMaxMinutes)}
          />
          <HttpProxyFields />
        </SubmitForm>
      ) : p.mayConnect ? (
        <p class="muted">Connect is offered here as soon as the gateway is online.</p>
      ) : (
        <p class="muted">Only technicians of this customer connect to its machines.</p>
      )}
    </div>
    <SessionTable sessions={p.sessions} principal={p.principal} csrfToken={p.csrfToken} />
  </>
);

/** The most characters a Connect's reason may have (the remote-access core's limit). */
const REASON_MAX = 200;

/** What a technician's Connect page shows, once: the one-time .ovpn and the session's reach. */
export interface ConnectionProfileView {
  sessionId: string;
  /** What the session reaches: a machine, or a gateway itself (SSH maintenance). */
  target: { name: string; address: string; href: string; list: [string, string] };
  fileName: string;
  profile: string;
  configExpiresAt: Date;
  endsAt: Date;
  reach: string;
}

/** The one showing of a technician's one-time connection file, with its countdown. */
export function ConnectionProfilePage(props: {
  view: ConnectionProfileView;
  csrfToken: string;
  principal: Principal;
}) {
  const { view } = props;
  return (
    <PortalPage
      title="Connect"
      csrfToken={props.csrfToken}
      principal={props.principal}
      crumbs={trail("Connect", view.target.list, [view.target.name, view.target.href])}
      heading={<>Your one-time connection to {view.target.name}</>}
    >
      <div class="card" hx-history="false">
        <Notice kind="warn">
          This configuration is offered only on this page and works for one connection. Open it with
          your OpenVPN client within{" "}
          <strong data-countdown={view.configExpiresAt.toISOString()}>
            <Time at={view.configExpiresAt} />
          </strong>
          .
        </Notice>
        <p>
          <DownloadLink
            fileName={view.fileName}
            mediaType="application/x-openvpn-profile"
            content={view.profile}
          >
            Download {view.fileName}
          </DownloadLink>
        </p>
        <dl>
          <dt>Reach</dt>
          <dd class="mono command">{view.reach}</dd>
          <dt>Session ends</dt>
          <dd>
            <Time at={view.endsAt} />
          </dd>
          <dt>Your PC's route</dt>
          <dd>
            The connection needs <span class="mono token">{view.target.address}</span> routed into
            the OpenVPN tunnel. Connected but no answer? Run{" "}
            <span class="mono command">ip route get {view.target.address}</span> (Windows:{" "}
            <span class="mono command">Find-NetRoute -RemoteIPAddress {view.target.address}</span>
            ): it must name the OpenVPN device. Another VPN (Tailscale and others use 100.64.0.0/10)
            or network that claims this address is a clash — pause it while connected.
          </dd>
        </dl>
        <ActionButton
          action={`/sessions/${view.sessionId}/disconnect`}
          csrfToken={props.csrfToken}
          kind="danger"
        >
          Disconnect
        </ActionButton>
      </div>
    </PortalPage>
  );
}

/** "3 × 12, 4 × 1" — counts by function code, lowest code first; "none" when empty. */
export function functionCounts(counts: Record<string, number>): string {
  const codes = Object.keys(counts).sort((a, b) => Number.parseFloat(a) - Number.parseFloat(b));
  return codes.length ? codes.map((code) => `${code} × ${counts[code]}`).join(", ") : "none";
}

/**
 * The read-only Modbus filter's evidence of a session, as its gateway last reported it: reads
 * passed and requests refused by function code (and connections closed for a malformed header).
 */
const ModbusEvidenceLines = ({ session }: { session: SessionView }) => {
  const readOnly = session.services.some((svc) => svc.mode === "modbus-read-only");
  const e = session.modbusEvidence;
  if (!readOnly && !e) return null;
  if (!e) return <div class="muted">Modbus read-only: no connection reported</div>;
  return (
    <div class="muted" data-modbus-evidence>
      <div>
        Modbus reads passed (function × count): <span class="mono">{functionCounts(e.passed)}</span>
      </div>
      <div>
        Modbus requests refused: <span class="mono">{functionCounts(e.refused)}</span>
        {e.closed ? ` · ${e.closed} connection(s) closed: not Modbus/TCP` : ""}
      </div>
      <div>
        as reported <Time at={new Date(e.reportedAt)} />
      </div>
    </div>
  );
};
