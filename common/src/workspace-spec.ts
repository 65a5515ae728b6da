// The contract between the platform's workspace runtime and the supervisor inside a jump workspace
// (DESIGN.md §6): what the supervisor is handed at start, and the state it reports back.
import { z } from "zod";

/** The customer's remote-access profile, already validated and unsealed by the platform. */
export const workspaceProfileSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("openvpn"),
    /** The OpenVPN client config, inline certificates and keys included (no files on disk). */
    config: z.string().min(1),
  }),
  z.object({
    kind: z.literal("ipsec"),
    /** A swanctl.conf; its children carry `start_action = start` so loading initiates them. */
    swanctl: z.string().min(1),
    /**
     * For certificate authentication: the PEMs the swanctl.conf names by their IPSEC_FILES paths
     * (the workspace's certificate and private key, the CA the remote side's certificate must
     * chain to), written there by the supervisor (mode 0600) before loading.
     */
    files: z
      .object({ certificate: z.string(), privateKey: z.string(), remoteCa: z.string() })
      .optional(),
  }),
]);

/**
 * Where the workspace keeps an IPsec profile's certificate files (the /run tmpfs, root only). The
 * private key lies in `private/` next to the swanctl.conf: `swanctl --load-all --file <conf>` loads
 * keys only from that directory's credential folders (a path in swanctl.conf's secrets section
 * merely names a key's passphrase).
 */
export const IPSEC_FILES = {
  certificate: "/run/meetpoint/vpn/workspace.pem",
  privateKey: "/run/meetpoint/vpn/private/workspace.key",
  remoteCa: "/run/meetpoint/vpn/remote-ca.pem",
} as const;
export type WorkspaceProfile = z.infer<typeof workspaceProfileSchema>;

/**
 * What the workspace supervisor runs with. Source: the env variable MEETPOINT_WORKSPACE_SPEC (JSON)
 * or the file MEETPOINT_WORKSPACE_SPEC_FILE (default /run/meetpoint/spec.json, mode 0600 root).
 */
export const workspaceSpecSchema = z.object({
  vnc: z.object({
    /** VncAuth password; VncAuth uses only the first 8 characters. */
    password: z.string().min(6).max(8),
  }),
  profile: workspaceProfileSchema,
  /** An nft script (`nft -f`), the egress allow-list; applied before anything else starts. */
  firewall: z.string().min(1),
  report: z.object({
    /** Where the state is POSTed as JSON (http or https). */
    url: z.url({ protocol: /^https?$/ }),
    /** Sent as `Authorization: Bearer <token>`. */
    token: z.string().min(16),
    /**
     * For an https URL: the platform's serving certificate at start time, PEM as served (the leaf
     * first, then the issuers served with it). The supervisor trusts these besides the system
     * roots and accepts the platform when its leaf's SHA-256 fingerprint equals the first one's,
     * whatever the URL's host; another leaf must pass the normal host-name check. Absent: the
     * system roots and the host-name check only.
     */
    certificate: z.string().includes("-----BEGIN CERTIFICATE-----").optional(),
  }),
});
export type WorkspaceSpec = z.infer<typeof workspaceSpecSchema>;

export const WORKSPACE_VPN_STATES = ["connecting", "up", "down"] as const;

/** The state a workspace supervisor reports on every change and every 30 s. */
export const workspaceReportSchema = z.object({
  vpn: z.enum(WORKSPACE_VPN_STATES),
  /** The last failure in words (never a secret): "openvpn: exit 1: AUTH_FAILED", "nft: …". */
  lastError: z.string().max(500).optional(),
  /** When this state was observed, ISO 8601. */
  at: z.iso.datetime(),
  /** Set once, when the supervisor gives up (the firewall could not be applied): nothing runs. */
  fatal: z.boolean().optional(),
});
export type WorkspaceReport = z.infer<typeof workspaceReportSchema>;
