// Gateway views: the agent's last report, and the one answer that hands over secret and bundle.

import type { Principal } from "../../access/index.ts";
import type { EnrollmentBundle } from "../../gateways/index.ts";
import type { Gateway } from "../../masterdata/index.ts";
import { DownloadLink, PortalPage, SecretValue, ShownOnceCard, SubmitForm } from "./components.tsx";
import { Field, Time, Token, Words } from "./layout.tsx";
import { type Reach, ReachText } from "./reach.tsx";

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
          <dt>Gateway</dt>
          <dd>
            {gateway.name} · site {gateway.siteName} · customer {gateway.customerName}
          </dd>
          <dt>Import before</dt>
          <dd>
            <Time at={bundle.expiresAt} />
          </dd>
          <dt>Secret</dt>
          <SecretValue value={props.secret} />
        </dl>
      </ShownOnceCard>
    </PortalPage>
  );
}

/** The platform's own view of a gateway's data channel: its OpenVPN connection, not a report. */
export interface DataChannelView {
  state: "connecting" | "online" | "closed";
  since: Date;
}

/**
 * The gateway: where it stands and its data channel as the platform knows it (the OpenVPN
 * connection it decided and routes), then what the agent reported last over its control channel —
 * labelled as reported, since a heartbeat is the agent's word and decides nothing.
 */
export function AgentCard(props: {
  gateway: Gateway;
  reach: Reach | null;
  now: Date;
  channel: DataChannelView | null;
}) {
  const { lastSeenAt, agent } = props.gateway;
  const { channel } = props;
  const state = props.reach ? <ReachText reach={props.reach} /> : null;
  const online = channel?.state === "online";
  const channelRow = (
    <>
      <dt>Data channel</dt>
      <dd>
        <span class={`badge ${online ? "ok" : channel ? "warn" : "failed"}`}>
          {online ? "online" : channel ? "connecting" : "none"}
        </span>{" "}
        {channel ? (
          <>
            since <Time at={channel.since} /> (the platform's OpenVPN connection)
          </>
        ) : (
          "no OpenVPN connection of this gateway at the platform"
        )}
      </dd>
    </>
  );
  if (!lastSeenAt || !agent)
    return (
      <div class="card">
        <h2>Gateway agent</h2>
        {state}
        <dl>{channelRow}</dl>
      </div>
    );
  const ago = Math.round((props.now.getTime() - lastSeenAt.getTime()) / 1000);
  const offset = agent.clockOffsetMs / 1000;
  const contradicts = agent.state === "online" && !online;
  return (
    <div class="card">
      <h2>Gateway agent</h2>
      {state}
      <dl>
        {channelRow}
        <dt>Last heartbeat</dt>
        <dd>
          <Time at={lastSeenAt} /> ({ago} s ago), from{" "}
          <Token>{agent.ip ?? "unknown address"}</Token>
        </dd>
        <dt>State (reported)</dt>
        <dd class={contradicts ? "error" : undefined}>
          {agent.state}
          {contradicts
            ? " — the agent says so, but the platform has no online data channel of this gateway"
            : ""}
        </dd>
        <dt>Versions (reported)</dt>
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
            <dt>Last error (reported)</dt>
            <dd class="error">
              <Words text={agent.lastError} />
            </dd>
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
