// Gateway views: the agent's last report, and the one answer that hands over secret and bundle.

import type { Principal } from "../../access/index.ts";
import type { EnrollmentBundle } from "../../gateways/index.ts";
import type { Gateway } from "../../masterdata/index.ts";
import { DownloadLink, PortalPage, SecretValue, ShownOnceCard, SubmitForm } from "./components.tsx";
import { Field, formatTime } from "./layout.tsx";

/** The page after creating or re-keying a gateway; nothing is stored to show secret and bundle again. */
export function GatewayCredentialsPage(props: {
  gateway: Gateway;
  bundle: EnrollmentBundle;
  secret: string;
  created: boolean;
  csrfToken: string;
  principal: Principal;
}) {
  const { gateway, bundle, created } = props;
  return (
    <PortalPage
      title={gateway.name}
      csrfToken={props.csrfToken}
      principal={props.principal}
      crumbs={[
        ["Gateways", "/gateways"],
        [gateway.name, `/gateways/${gateway.id}`],
      ]}
      heading={created ? "Gateway created" : "Gateway re-keyed"}
    >
      <ShownOnceCard
        notice={
          <>
            Download the enrollment bundle now and import it on the gateway (operator UI, or its
            import folder). It is offered only on this page
            {created ? "" : "; the previous secret and bundle no longer work"}.
          </>
        }
        continueHref={`/gateways/${gateway.id}`}
        continueLabel="Continue to the gateway"
      >
        <p>
          <DownloadLink
            fileName={bundle.fileName}
            mediaType="application/jose"
            content={`${bundle.token}\n`}
          >
            Download enrollment bundle
          </DownloadLink>
        </p>
        <dl>
          <dt>Gateway id</dt>
          <dd class="mono">{gateway.id}</dd>
          <dt>Bundle version</dt>
          <dd class="mono">{bundle.version}</dd>
          <dt>Import before</dt>
          <dd>{formatTime(bundle.expiresAt)}</dd>
          <dt>Secret</dt>
          <SecretValue value={props.secret} />
        </dl>
      </ShownOnceCard>
    </PortalPage>
  );
}

/** What the gateway's agent reported last over its control channel. */
export function AgentCard(props: { gateway: Gateway; now: Date }) {
  const { lastSeenAt, agent } = props.gateway;
  if (!lastSeenAt || !agent)
    return (
      <div class="card">
        <p class="muted">The gateway has not reported yet: import its enrollment bundle there.</p>
      </div>
    );
  const ago = Math.round((props.now.getTime() - lastSeenAt.getTime()) / 1000);
  const reporting = ago <= 60;
  const offset = agent.clockOffsetMs / 1000;
  return (
    <div class="card">
      <h2>Gateway agent</h2>
      <dl>
        <dt>Last heartbeat</dt>
        <dd>
          <span class={`badge ${reporting ? "ok" : "failed"}`}>
            {reporting ? "reporting" : "silent"}
          </span>{" "}
          {ago} s ago, from <span class="mono">{agent.ip ?? "unknown address"}</span>
        </dd>
        <dt>State</dt>
        <dd>{agent.state}</dd>
        <dt>Versions</dt>
        <dd class="mono">
          agent {agent.agentVersion}, OpenVPN {agent.openvpnVersion ?? "not found"}
        </dd>
        <dt>Clock offset</dt>
        <dd class={Math.abs(offset) > 60 ? "error" : undefined}>
          {offset >= 0 ? "+" : ""}
          {offset.toFixed(1)} s against the platform
        </dd>
        {agent.lastError ? (
          <>
            <dt>Last error</dt>
            <dd class="error">{agent.lastError}</dd>
          </>
        ) : null}
      </dl>
    </div>
  );
}

/**
 * SSH maintenance of a connect gateway, for platform admins: a one-time connection to the
 * gateway's own tunnel address, port 22, while the operator there has pressed Connect.
 */
export function MaintenanceCard(props: {
  gatewayId: string;
  online: boolean;
  address: string | null;
  csrfToken: string;
}) {
  return (
    <div class="card">
      <h2>SSH maintenance</h2>
      {props.online ? (
        <SubmitForm
          action={`/gateways/${props.gatewayId}/maintenance`}
          csrfToken={props.csrfToken}
          submit="Open SSH maintenance session"
          row
        >
          <Field
            label="Reason — shown to the operator at the gateway and logged"
            name="reason"
            placeholder="e.g. ticket 4711, update failed"
          />
        </SubmitForm>
      ) : (
        <p class="muted">
          Possible while the operator at the gateway has pressed Connect: SSH to the gateway goes
          through its data channel
          {props.address ? (
            <>
              {" "}
              (<span class="mono">{props.address}</span>)
            </>
          ) : null}
          .
        </p>
      )}
    </div>
  );
}
