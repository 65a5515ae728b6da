// A workstation in the portal: a plant PC that connects itself. Its state and the person at the
// plant's Go online / Go offline, and the one showing of its one-time connection file.
import type { Principal } from "../../access/index.ts";
import type { GatewaySession } from "../../sessions/index.ts";
import { ActionButton, DownloadLink, PortalPage, ShownOnceCard, trail } from "./components.tsx";
import { formatTime, Notice } from "./layout.tsx";

/** State and controls of a workstation, for its gateway page. */
export function WorkstationCard(props: {
  gatewayId: string;
  channel: GatewaySession | null;
  mayArm: boolean;
  csrfToken: string;
}) {
  const { channel } = props;
  const online = channel?.state === "online";
  return (
    <div class="card">
      <h2>Workstation</h2>
      <p>
        This plant PC connects itself with a stock OpenVPN client (or OpenVPN Connect): a person at
        the plant, signed in on that PC, presses <strong>Go online</strong> and opens the one-time
        file it offers. Restrict this PC's web access to the platform's address (see the README,
        "Workstations").
      </p>
      <p>
        {online ? (
          <>
            <span class="badge ok">online</span> since{" "}
            {formatTime(channel.onlineAt ?? channel.requestedAt)}
          </>
        ) : channel?.state === "connecting" ? (
          <>
            <span class="badge">waiting</span> a one-time file was offered at{" "}
            {formatTime(channel.requestedAt)}; it has not connected yet
          </>
        ) : (
          <span class="badge">offline</span>
        )}
      </p>
      {props.mayArm ? (
        online ? (
          <ActionButton
            action={`/workstations/${props.gatewayId}/offline`}
            csrfToken={props.csrfToken}
            confirm="Technicians connected to this PC are cut off at once. Go offline?"
            kind="danger"
          >
            Go offline
          </ActionButton>
        ) : (
          <ActionButton
            action={`/workstations/${props.gatewayId}/online`}
            csrfToken={props.csrfToken}
          >
            Go online
          </ActionButton>
        )
      ) : null}
    </div>
  );
}

/** The one showing of a workstation's one-time connection file. */
export function WorkstationProfilePage(props: {
  csrfToken: string;
  principal: Principal;
  gateway: { id: string; name: string };
  fileName: string;
  profile: string;
  connectBy: Date;
}) {
  return (
    <PortalPage
      title="Go online"
      csrfToken={props.csrfToken}
      principal={props.principal}
      crumbs={trail("Go online", [props.gateway.name, `/gateways/${props.gateway.id}`])}
      heading={<>{props.gateway.name}: go online</>}
    >
      <ShownOnceCard
        notice={
          <>
            Open this file with OpenVPN (or OpenVPN Connect) on this PC before{" "}
            <strong data-countdown={props.connectBy.toISOString()}>
              {formatTime(props.connectBy)}
            </strong>
            . It works for one connection only and is offered only here: passed to anyone else it is
            worthless. Close the client, or press Go offline, to end remote access.
          </>
        }
        continueHref={`/gateways/${props.gateway.id}`}
        continueLabel="Back to the workstation"
      >
        <p>
          <DownloadLink
            fileName={props.fileName}
            mediaType="application/x-openvpn-profile"
            content={props.profile}
          >
            Download {props.fileName}
          </DownloadLink>
        </p>
      </ShownOnceCard>
    </PortalPage>
  );
}

/** Said when Go online is pressed on a workstation that is online already. */
export const AlreadyOnline = (props: { since: Date }) => (
  <Notice kind="ok">
    This workstation is online already (since {formatTime(props.since)}): no second file is offered.
    Close its OpenVPN client, or Go offline, first.
  </Notice>
);
