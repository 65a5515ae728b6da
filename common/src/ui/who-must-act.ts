// Who must act when a gateway cannot connect, read from the reason the agent gives: plant IT (the
// plant's network, DNS, firewall or proxy), the platform's operator (the platform is down, refuses
// or was changed), the operator at the machine, or nobody (it heals by itself: wait). Both the
// operator UI and the portal say it in these words, from the same reasons.

export type Actor =
  | "plant IT"
  | "the platform's operator"
  | "the operator at the machine"
  | "nobody";

export interface WhoMustAct {
  who: Actor;
  /** What that person does, in one sentence. */
  action: string;
}

const RULES: [RegExp, WhoMustAct][] = [
  [
    /cannot be resolved|check DNS|ENOTFOUND|EAI_AGAIN/i,
    {
      who: "plant IT",
      action:
        "The gateway cannot look up the platform's name: give its WAN side a working DNS server.",
    },
  ],
  [
    /no route|ENETUNREACH|EHOSTUNREACH|WAN link/i,
    {
      who: "plant IT",
      action: "The gateway has no way out: check its WAN link, address and default route.",
    },
  ],
  [
    /did not answer in time|timed? ?out|ETIMEDOUT/i,
    {
      who: "plant IT",
      action:
        "Nothing answers on the way to the platform: a firewall probably drops it. Allow the gateway outgoing TCP to the platform (HTTPS and the OpenVPN port).",
    },
  ],
  [
    /refused the connection|ECONNREFUSED|ConnectionRefused/i,
    {
      who: "the platform's operator",
      action:
        "Nothing listens at the platform's address and port: the platform is down or moved. If it is up, plant IT: a firewall on the way rejects the connection.",
    },
  ],
  [
    /not trusted|CA pinned|certificate/i,
    {
      who: "plant IT",
      action:
        "Something on the way presents another certificate (a TLS-inspecting proxy): let the gateway reach the platform directly. If the platform's CA was changed, the platform's operator issues a new enrollment bundle.",
    },
  ],
  [
    /without JSON|proxy/i,
    {
      who: "plant IT",
      action:
        "A proxy answers instead of the platform: let the gateway reach the platform directly.",
    },
  ],
  [
    /secret|re-keyed|401|new enrollment bundle/i,
    {
      who: "the platform's operator",
      action:
        "The platform does not accept this gateway's secret: an admin re-keys the gateway in the portal and the bundle is imported here.",
    },
  ],
  [
    /data plane|database|503|too many failed|contract|versions differ/i,
    {
      who: "the platform's operator",
      action:
        "The platform cannot give remote access right now; its operator must look at the platform's Status page.",
    },
  ],
  [
    /did not come up|OpenVPN|TLS handshake|tunnel/i,
    {
      who: "plant IT",
      action:
        "The control channel works but the tunnel does not come up: allow the gateway outgoing traffic to the platform's OpenVPN port.",
    },
  ],
  [
    /forwarding|firewall could not be set|nft|conntrack/i,
    {
      who: "plant IT",
      action:
        "The gateway cannot set its own firewall: whoever installed it gives the container NET_ADMIN, /dev/net/tun and IPv4 forwarding.",
    },
  ],
  [
    /by technician|by admin|only the operator/i,
    {
      who: "the operator at the machine",
      action: "Remote access was ended from the portal: press Connect again when it is wanted.",
    },
  ],
  [
    /not enrolled/i,
    {
      who: "the operator at the machine",
      action: "Import the enrollment bundle from the portal (Enrollment page or import folder).",
    },
  ],
  [
    /closed the data channel|dropped|broke off|gateway_lost|vpn_failure|platform_shutdown|renewal|ECONNRESET/i,
    {
      who: "nobody",
      action: "The connection dropped; the gateway connects again by itself. Wait.",
    },
  ],
];

/** Who must act on `reason` (the agent's last error); nobody when there is none to act on. */
export function whoMustAct(reason: string | null): WhoMustAct {
  if (!reason) return { who: "nobody", action: "Nothing is wrong." };
  for (const [pattern, verdict] of RULES) if (pattern.test(reason)) return verdict;
  return {
    who: "nobody",
    action:
      "The gateway keeps trying by itself. If this lasts, hand the diagnostics report to plant IT.",
  };
}

/** "plant IT must act: …" / "Nobody needs to act: …", as one sentence for a page. */
export function whoMustActText(reason: string | null): string {
  const { who, action } = whoMustAct(reason);
  return who === "nobody"
    ? `Nobody needs to act: ${action}`
    : `${who[0]?.toUpperCase()}${who.slice(1)} must act: ${action}`;
}
