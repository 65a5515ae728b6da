// The transparency report of an ended remote session as a portal page: who, why, consent, the
// services with their traffic (the server-drawn SVG chart), Modbus counts, the end, the audit range.
import type { FC } from "hono/jsx";
import type { Principal } from "../../access/index.ts";
import { byteText, type TransparencyReport, trafficChart } from "../../reports/index.ts";
import { DataTable, PortalPage, trail } from "./components.tsx";
import { Time, Token } from "./layout.tsx";
import { functionCounts } from "./sessions.tsx";

const at = (iso: string | null) => (iso ? <Time at={new Date(iso)} /> : <span>never</span>);

export const ReportPage: FC<{
  report: TransparencyReport;
  principal: Principal;
  csrfToken: string;
}> = ({ report: r, principal, csrfToken }) => {
  const s = r.session;
  const chart = trafficChart(r.services, {
    from: new Date(s.activatedAt ?? s.requestedAt),
    to: new Date(s.endedAt),
  });
  return (
    <PortalPage
      title="Transparency report"
      csrfToken={csrfToken}
      principal={principal}
      crumbs={trail("Transparency report", ["Remote sessions", "/sessions"])}
    >
      <div class="card" data-report-who>
        <h2>Who and why</h2>
        <dl>
          <dt>Technician</dt>
          <dd>
            {r.technician.name} (<Token>{r.technician.username}</Token>), signs in through{" "}
            {r.technician.signsInThrough}
          </dd>
          <dt>Company</dt>
          <dd class="muted">not recorded — {r.technician.companyNote}</dd>
          <dt>Reason</dt>
          <dd>{s.reason}</dd>
          <dt>Mode</dt>
          <dd data-report-mode={s.mode}>
            {s.mode === "read_only"
              ? "read-only, as requested: Modbus/TCP reads only, writes refused at the gateway"
              : "full access"}
          </dd>
          <dt>Reached</dt>
          <dd>
            {r.machine ? r.machine.name : `${r.gateway.name} (SSH maintenance)`} · gateway{" "}
            {r.gateway.name} · site {r.site.name} · customer {r.customer.name}
          </dd>
        </dl>
      </div>
      <div class="card" data-report-consent>
        <h2>Consent</h2>
        <p>{r.consent.statement}</p>
        {r.consent.approvals.length > 0 ? (
          <ul data-report-approvals>
            {r.consent.approvals.map((a) => (
              <li>
                Allowed by {a.by} at {at(a.at)} in the {a.where}
              </li>
            ))}
          </ul>
        ) : null}
        <p class="muted">
          The operator's data channel: requested {at(r.consent.dataChannel.requestedAt)}, online{" "}
          {at(r.consent.dataChannel.onlineAt)}, closed {at(r.consent.dataChannel.closedAt)}
          {r.consent.dataChannel.closeReason ? ` (${r.consent.dataChannel.closeReason})` : ""}
        </p>
      </div>
      <h2>Services and traffic</h2>
      <DataTable
        head={["Service", "Mode", "Reached", "Packets", "Bytes"]}
        rows={r.services}
        empty="No services were granted."
        row={(svc) => (
          <tr>
            <td>
              {svc.name} <Token>{`${svc.protocol}/${svc.port}`}</Token>
            </td>
            <td>{svc.mode === "modbus-read-only" ? "read-only Modbus" : "full"}</td>
            <td>{svc.reached === null ? "counters missing" : svc.reached ? "yes" : "no"}</td>
            <td>{svc.packets ?? "—"}</td>
            <td>{svc.bytes === null ? "—" : byteText(svc.bytes)}</td>
          </tr>
        )}
      />
      {/* The chart is built by trafficChart, which escapes every text it draws. */}
      <div class="card" data-report-chart dangerouslySetInnerHTML={{ __html: chart }} />
      <p class="muted">
        The technician's tunnel, all services together: {byteText(r.tunnel.bytesIn)} in ·{" "}
        {byteText(r.tunnel.bytesOut)} out. Connections per service are not counted by the platform's
        firewall.
      </p>
      <div class="card" data-report-modbus>
        <h2>Modbus/TCP</h2>
        {r.modbus ? (
          <dl>
            <dt>Reads passed (function × count)</dt>
            <dd>
              <Token>{functionCounts(r.modbus.passed)}</Token>
            </dd>
            <dt>Writes and other requests refused</dt>
            <dd>
              <Token>{functionCounts(r.modbus.refused)}</Token>
            </dd>
            <dt>Connections closed for a malformed header</dt>
            <dd>{r.modbus.closed}</dd>
            <dt>As reported</dt>
            <dd>{at(r.modbus.reportedAt)}</dd>
          </dl>
        ) : (
          <p class="muted">No read-only Modbus connection was reported for this session.</p>
        )}
      </div>
      <div class="card" data-report-times>
        <h2>Times</h2>
        <dl>
          <dt>Requested</dt>
          <dd>{at(s.requestedAt)}</dd>
          <dt>Connected</dt>
          <dd>{at(s.activatedAt)}</dd>
          <dt>Ended</dt>
          <dd>
            {at(s.endedAt)}: {s.endReasonText}
            {s.endedBy ? ` (${s.endedBy})` : ""} — {s.durationSeconds} s
          </dd>
        </dl>
      </div>
      <h2>Audit entries</h2>
      <p data-report-range>
        {r.audit.first && r.audit.last ? (
          <>
            Sequence <Token>{r.audit.first.seq}</Token> to <Token>{r.audit.last.seq}</Token> of the
            hash chain: first hash <Token>{r.audit.first.hash}</Token> (after{" "}
            <Token>{r.audit.first.prevHash}</Token>), last hash <Token>{r.audit.last.hash}</Token>
          </>
        ) : (
          "No audit entry of this session is left (pruned by retention)."
        )}
      </p>
      <DataTable
        head={["Seq", "At", "Action", "Result", "Hash"]}
        rows={r.audit.entries}
        empty="None."
        row={(e) => (
          <tr>
            <td>{e.seq}</td>
            <td>{at(e.at)}</td>
            <td>{e.action}</td>
            <td>{e.result}</td>
            <td class="mono">{e.hash}</td>
          </tr>
        )}
      />
      <p>
        <a class="button" hx-boost="false" href={`/sessions/${s.id}/report.json`}>
          Download signed report (JSON, JWS)
        </a>{" "}
        <a hx-boost="false" href="/pki/signing-key.jwk">
          The platform's signing key (JWK)
        </a>
      </p>
    </PortalPage>
  );
};
