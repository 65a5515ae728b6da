/** @jsxImportSource hono/jsx */
// The live panel of the Remote access page (polled every 2 s): what is true now, since when, who
// must act; the big Connect and Disconnect buttons; who is connected, why, to what, until when.

import type { PendingRequest } from "@meetpoint/common";
import type { PlatformContact } from "../agent/control-loops.ts";
import type { AgentStatus } from "../agent/status.ts";
import { ConsentScreen } from "./consent-screen.tsx";
import { statusWords } from "./status-words.ts";
import { Time, Token, Words } from "./views.tsx";

export function StatusPanel(props: {
  status: AgentStatus;
  enrolled: boolean;
  platform: string | null;
  contact: PlatformContact | null;
  csrf: string;
  /** Requests waiting for the operator, oldest first: the oldest fills the panel. */
  pending?: PendingRequest[];
  now?: Date;
}) {
  const { status } = props;
  const words = statusWords(status, props.enrolled);
  const [request] = props.pending ?? [];
  return (
    <div id="status" hx-get="/status" hx-trigger="every 2s" hx-swap="outerHTML">
      {request ? (
        <ConsentScreen
          request={request}
          waiting={props.pending?.length ?? 0}
          now={props.now ?? new Date()}
          csrf={props.csrf}
        />
      ) : null}
      <div
        class={`card ${words.phase === "active" ? "active-session" : ""}`}
        hidden={request !== undefined}
      >
        <p
          class={`state ${status.state} ${words.phase}`}
          data-state={status.state}
          data-phase={words.phase}
        >
          {words.headline}
        </p>
        {words.since ? (
          <p class="since">
            since <Time at={words.since} />
          </p>
        ) : null}
        <p>
          <Words text={words.detail} />
        </p>
        {words.act ? (
          <p class="act">
            <Words text={words.act} />
          </p>
        ) : null}
        <div class="buttons">
          <form method="post" action="/connect" hx-boost="false">
            <input type="hidden" name="_csrf" value={props.csrf} />
            <button
              class="big connect"
              type="submit"
              disabled={!props.enrolled || status.state !== "idle"}
            >
              Connect
            </button>
          </form>
          <form method="post" action="/disconnect" hx-boost="false">
            <input type="hidden" name="_csrf" value={props.csrf} />
            <button class="big disconnect" type="submit" disabled={status.state === "idle"}>
              Disconnect
            </button>
          </form>
        </div>
        {!props.enrolled ? (
          <p>
            Not enrolled yet: <a href="/enrollment">import the enrollment bundle</a>.
          </p>
        ) : null}
      </div>
      {status.remoteSessions.map((s) => (
        <div class="card">
          <h2>
            {s.state === "active" ? "Connected" : "Requested"}: {s.technician}
          </h2>
          <dl>
            <dt>Why</dt>
            <dd>{s.reason}</dd>
            <dt>Machine</dt>
            <dd>
              {s.machine}{" "}
              <span class="mono">
                (<Token>{s.lanAddress}</Token>)
              </span>
            </dd>
            <dt>Services</dt>
            <dd>
              {s.services.map((x, i) => (
                <>
                  {i > 0 ? ", " : ""}
                  {x.name}{" "}
                  <Token>
                    ({x.protocol}/{x.port})
                  </Token>
                  {x.mode === "modbus-read-only"
                    ? " read-only: Modbus reads only, writes refused"
                    : x.mode !== undefined && x.mode !== "full"
                      ? ` not forwarded: mode ${x.mode} unknown to this gateway`
                      : ""}
                </>
              ))}
            </dd>
            <dt>Since</dt>
            <dd>
              <Time at={s.since} />
            </dd>
            <dt>Until</dt>
            <dd>
              <Time at={s.until} />
            </dd>
          </dl>
        </div>
      ))}
      {props.platform ? (
        <p class="muted">
          Platform: <span class="mono">{props.platform}</span>
          {props.contact ? (
            props.contact.ok ? (
              <>
                {" "}
                — last answer <Time at={props.contact.at} />
              </>
            ) : (
              <>
                {" "}
                — not answering (<Time at={props.contact.at} />:{" "}
                <Words text={props.contact.error ?? "no answer"} />)
              </>
            )
          ) : null}
        </p>
      ) : null}
    </div>
  );
}
