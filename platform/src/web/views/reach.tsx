// Whether a machine can be reached through its gateway right now, by whom, and why not: one
// reading of the gateway's last heartbeat (its phase and since when) and of the data channel the
// platform holds open. The machine file, the machine and gateway lists and the gateway page show it.
import { type GatewayPhase, whoMustAct, whoMustActText } from "@meetpoint/common";
import type { FC } from "hono/jsx";
import type { AgentReport } from "../../db/index.ts";
import { Time, Words } from "./layout.tsx";

/** A gateway without a heartbeat for this long (6 missed at the default 10 s) counts as silent. */
export const SILENT_AFTER_MS = 60_000;

export type ReachKind = GatewayPhase | "never" | "silent";

export interface Reach {
  kind: ReachKind;
  /** Since when it holds, when known. */
  since: Date | null;
  /** The short word of a list's column. */
  word: string;
  /** One sentence: what is true now. */
  sentence: string;
  /** Who must act, and how; null when nobody needs to (online, connecting). */
  act: string | null;
}

/** What the platform knows of a gateway: its last heartbeat, and the data channel it holds open. */
export interface GatewayFacts {
  /** A workstation has no agent: only its tunnel tells (default connect). */
  kind?: "connect" | "workstation";
  lastSeenAt: Date | null;
  agent: AgentReport | null;
  /** The open data channel (connecting or online), if any. */
  channel: { state: string; requestedAt: Date; onlineAt: Date | null } | null;
}

const date = (iso: string | undefined): Date | null => (iso ? new Date(iso) : null);

/** The gateway's reach at `now`, from what the platform knows. */
export function gatewayReach(facts: GatewayFacts, now: Date): Reach {
  const { lastSeenAt, agent, channel } = facts;
  if (facts.kind === "workstation") return workstationReach(channel);
  if (channel?.state === "online")
    return {
      kind: "online",
      since: channel.onlineAt,
      word: "online",
      sentence:
        "Gateway online — the operator allows access: technicians of this customer can connect now.",
      act: null,
    };
  if (!lastSeenAt || !agent)
    return {
      kind: "never",
      since: null,
      word: "not enrolled",
      sentence: "The gateway has never reported: its enrollment bundle has not been imported yet.",
      act: "A customer admin or platform admin downloads the bundle (gateway page, Re-key) and the operator imports it at the gateway.",
    };
  if (now.getTime() - lastSeenAt.getTime() > SILENT_AFTER_MS)
    return {
      kind: "silent",
      since: lastSeenAt,
      word: "no contact",
      sentence: "No contact with the gateway: it has not reported since then.",
      act: "Plant IT must act: check the gateway's power and network, and that the plant's firewall lets it reach the platform.",
    };
  const phase = (agent.phase as GatewayPhase | undefined) ?? "idle";
  const since = date(agent.phaseSince);
  switch (phase) {
    case "online":
    case "connecting":
      return {
        kind: "connecting",
        since: channel?.requestedAt ?? since,
        word: "connecting",
        sentence: "Connecting: the operator pressed Connect and the data channel is coming up.",
        act: null,
      };
    case "failing": {
      const reason = agent.lastError ?? "no reason given";
      return {
        kind: "failing",
        since,
        word: "cannot connect",
        sentence: `Cannot connect — retrying; reason: ${reason}.`,
        act: whoMustActText(reason),
      };
    }
    default: {
      const ended =
        agent.lastError && whoMustAct(agent.lastError).who === "the operator at the machine";
      return {
        kind: "idle",
        since,
        word: "off",
        sentence: ended
          ? `Remote access is off: ${agent.lastError}.`
          : "Remote access is off at the gateway: the operator has not pressed Connect.",
        act: "The operator at the machine must press Connect on the gateway to allow access.",
      };
    }
  }
}

/** A workstation's reach: its own tunnel, brought up by a person at the plant (Go online). */
function workstationReach(channel: GatewayFacts["channel"]): Reach {
  if (channel?.state === "online")
    return {
      kind: "online",
      since: channel.onlineAt,
      word: "online",
      sentence:
        "Workstation online — the plant brought it online: technicians of this customer can connect now.",
      act: null,
    };
  if (channel)
    return {
      kind: "connecting",
      since: channel.requestedAt,
      word: "waiting",
      sentence:
        "Waiting for the workstation: a one-time file was offered at the plant, not used yet.",
      act: null,
    };
  return {
    kind: "idle",
    since: null,
    word: "offline",
    sentence: "The workstation is offline.",
    act: "A person at the plant signs in to the portal on that PC and presses Go online on its page.",
  };
}

const BADGE: Record<ReachKind, string> = {
  online: "ok",
  connecting: "connecting",
  failing: "failed",
  silent: "failed",
  never: "idle",
  idle: "idle",
};

/** The list column: a badge with the word, and since when. */
export const ReachCell: FC<{ reach: Reach }> = ({ reach }) => (
  <td data-reach={reach.kind}>
    <span class={`badge ${BADGE[reach.kind]}`}>{reach.word}</span>
    {reach.since ? (
      <div class="muted">
        since <Time at={reach.since} />
      </div>
    ) : null}
  </td>
);

/** The machine file's and gateway page's line: what is true, since when, and who must act. */
export const ReachText: FC<{ reach: Reach }> = ({ reach }) => (
  <div class="reach-text" data-reach={reach.kind}>
    <p class="reach">
      <span class={`badge ${BADGE[reach.kind]}`}>{reach.word}</span>
      {reach.since ? (
        <span>
          since <Time at={reach.since} />
        </span>
      ) : null}
    </p>
    <p>
      <Words text={reach.sentence} />
    </p>
    {reach.act ? (
      <p class="muted">
        <Words text={reach.act} />
      </p>
    ) : null}
  </div>
);
