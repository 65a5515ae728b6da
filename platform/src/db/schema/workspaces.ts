// Jump workspaces (Enterprise): templates changed only by four eyes, one workspace per customer with
// its remote-access profile and egress allow-list, and the technicians granted access to it.
import { sql } from "drizzle-orm";
import {
  bigint,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  unique,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { at, createdAt, id } from "./columns.ts";
import { customers } from "./customers.ts";
import { users } from "./users.ts";

/** What a template lets a workspace start with; CPU in thousandths of a core. */
export interface TemplateValues {
  /** `repository@sha256:<64 hex>`: pinned by digest, never a tag. */
  image: string;
  cpuMillicores: number;
  memoryMib: number;
  pidsLimit: number;
  idleTimeoutMinutes: number;
  replicas: number;
}

export const workspaceTemplates = pgTable("workspace_templates", {
  id: id(),
  name: text("name").notNull().unique("workspace_templates_name_unique"),
  /** The approved values; null until a second admin approved the first proposal. */
  effective: jsonb("effective").$type<TemplateValues>(),
  /** The proposal whose values are effective. */
  approvedProposalId: uuid("approved_proposal_id"),
  approvedAt: at("approved_at"),
  createdAt: createdAt(),
});

export const PROPOSAL_STATES = ["pending", "approved", "rejected", "superseded"] as const;
export type ProposalState = (typeof PROPOSAL_STATES)[number];

export const workspaceTemplateProposals = pgTable(
  "workspace_template_proposals",
  {
    id: id(),
    templateId: uuid("template_id")
      .notNull()
      .references(() => workspaceTemplates.id, { onDelete: "cascade" }),
    values: jsonb("values").$type<TemplateValues>().notNull(),
    proposedBy: uuid("proposed_by").notNull(),
    proposedByName: text("proposed_by_name").notNull(),
    proposedAt: at("proposed_at").notNull(),
    state: text("state", { enum: PROPOSAL_STATES }).notNull().default("pending"),
    decidedBy: uuid("decided_by"),
    decidedByName: text("decided_by_name"),
    decidedAt: at("decided_at"),
  },
  (t) => [
    index("workspace_template_proposals_template").on(t.templateId, t.state),
    // At most one pending proposal a template: two changes proposed at once cannot both wait.
    uniqueIndex("workspace_template_proposals_one_pending")
      .on(t.templateId)
      .where(sql`${t.state} = 'pending'`),
  ],
);

export const PROFILE_KINDS = ["openvpn", "ipsec"] as const;
export type ProfileKind = (typeof PROFILE_KINDS)[number];

/** One entry of a workspace's egress allow-list (its "network security group"). */
export interface EgressEntry {
  /** An IPv4/IPv6 address or CIDR (host bits zero). */
  destination: string;
  protocol: "tcp" | "udp" | "icmp";
  /** 1–65535; null for icmp and for every port. */
  port: number | null;
  /**
   * Also reachable on the workspace's uplink, outside the customer's VPN ("direct"). Absent/false:
   * only through the customer's tunnel — with the tunnel down nothing leaves in the clear.
   */
  direct?: boolean;
}

export const WORKSPACE_STATES = ["stopped"] as const;

export const workspaces = pgTable("workspaces", {
  id: id(),
  /** One workspace per customer. */
  customerId: uuid("customer_id")
    .notNull()
    .unique("workspaces_customer_unique")
    .references(() => customers.id, { onDelete: "restrict" }),
  templateId: uuid("template_id")
    .notNull()
    .references(() => workspaceTemplates.id, { onDelete: "restrict" }),
  /** Null until a profile is stored. */
  profileKind: text("profile_kind", { enum: PROFILE_KINDS }),
  /**
   * The profile without its secrets (OpenVPN: the accepted lines, secret blocks replaced by a
   * marker; IPsec: the settings), plus when each sealed secret last changed (no hash of a secret).
   */
  profile: jsonb("profile").$type<Record<string, unknown>>(),
  /** The profile's secrets as JSON, sealed with the KEK (label "workspace-profile:<id>"). */
  profileSecretsSealed: text("profile_secrets_sealed"),
  allowList: jsonb("allow_list").$type<EgressEntry[]>().notNull().default([]),
  state: text("state", { enum: WORKSPACE_STATES }).notNull().default("stopped"),
  createdAt: createdAt(),
});

export const workspaceGrants = pgTable(
  "workspace_grants",
  {
    id: id(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    grantedBy: uuid("granted_by"),
    createdAt: createdAt(),
  },
  (t) => [unique("workspace_grants_unique").on(t.workspaceId, t.userId)],
);

/**
 * A run's life: the start's steps (any instance shows them), then running, then stopped; failed
 * when the start gave up (the message says why).
 */
export const RUN_STATES = [
  "creating_network",
  "starting",
  "waiting_desktop",
  "running",
  "stopped",
  "failed",
] as const;
export type RunState = (typeof RUN_STATES)[number];

/**
 * A run of a workspace's desktop, written by the runtime when it starts one: where its VNC server
 * listens and the per-run VNC password (sealed with the KEK, label "workspace-vnc:<run id>"). The
 * browser relay reads the newest running row (workspaces/displays.ts).
 */
export const workspaceRuns = pgTable(
  "workspace_runs",
  {
    id: id(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    state: text("state", { enum: RUN_STATES }).notNull(),
    /** What the start is doing or why it failed, in words for the page ("waiting for the desktop"). */
    message: text("message"),
    /** Who pressed Start (user id, name); null for runs recorded without one. */
    startedBy: uuid("started_by"),
    startedByName: text("started_by_name"),
    /** The image and the approved proposal of the template this run started with. */
    image: text("image"),
    templateId: uuid("template_id"),
    templateProposalId: uuid("template_proposal_id"),
    /**
     * The version of the workspace's profile and allow-list this run started with
     * (settingsVersion): a run whose settings changed since is stopped (settings_change).
     */
    settingsVersion: text("settings_version"),
    /**
     * The Docker endpoint of this run's objects as configured ("tcp://ws-b:2376"): the one the
     * replica being started or running is on. Null for runs recorded before several endpoints
     * existed (they ran on the first one).
     */
    dockerEndpoint: text("docker_endpoint"),
    /** Docker objects of this run (on its Docker endpoint). */
    containerName: text("container_name"),
    networkName: text("network_name"),
    /** SHA-256 (hex) of the supervisor's per-run report token; the token itself is never stored. */
    reportTokenHash: text("report_token_hash"),
    /** The VPN state the supervisor last reported, its last error, and when. */
    vpn: text("vpn", { enum: ["connecting", "up", "down"] }),
    vpnError: text("vpn_error"),
    reportedAt: at("reported_at"),
    vncHost: text("vnc_host"),
    vncPort: integer("vnc_port"),
    vncPasswordSealed: text("vnc_password_sealed"),
    startedAt: at("started_at").notNull().defaultNow(),
    /** When the desktop answered (state running). */
    runningAt: at("running_at"),
    stoppedAt: at("stopped_at"),
    /** Why it stopped: manual, idle, template_change. */
    stopReason: text("stop_reason"),
  },
  (t) => [
    index("workspace_runs_workspace_idx").on(t.workspaceId, t.startedAt),
    // One live run a workspace, across platform instances: a second Start is a conflict.
    uniqueIndex("workspace_runs_one_live")
      .on(t.workspaceId)
      .where(sql`${t.state} not in ('stopped', 'failed')`),
    uniqueIndex("workspace_runs_report_token").on(t.reportTokenHash),
  ],
);

/**
 * One browser connection to a workspace, recorded in noVNC's playback format under the data
 * directory; its SHA-256 is written when it closes (also into the connection's audit entry). The
 * customer and user are kept by value: a recording outlives its workspace and its user.
 */
export const workspaceRecordings = pgTable(
  "workspace_recordings",
  {
    id: id(),
    workspaceId: uuid("workspace_id").notNull(),
    customerId: uuid("customer_id").notNull(),
    customerName: text("customer_name").notNull(),
    userId: uuid("user_id").notNull(),
    username: text("username").notNull(),
    sourceIp: text("source_ip"),
    /** Relative to the platform's recordings directory. */
    file: text("file").notNull(),
    startedAt: at("started_at").notNull().defaultNow(),
    endedAt: at("ended_at"),
    /** Bytes relayed server → browser and browser → server. */
    bytesDown: bigint("bytes_down", { mode: "number" }).notNull().default(0),
    bytesUp: bigint("bytes_up", { mode: "number" }).notNull().default(0),
    sha256: text("sha256"),
    /**
     * Renewed by the relaying platform instance while the connection is open; an open row whose
     * heartbeat is old was left by an instance that stopped, and no longer holds the workspace.
     */
    heartbeatAt: at("heartbeat_at"),
  },
  (t) => [
    // One viewer per workspace, across platform instances: one open connection at a time.
    uniqueIndex("workspace_recordings_one_viewer")
      .on(t.workspaceId)
      .where(sql`${t.endedAt} is null`),
    index("workspace_recordings_started_idx").on(t.startedAt),
    index("workspace_recordings_customer_idx").on(t.customerId, t.startedAt),
  ],
);

export const BACKUP_REASONS = ["scheduled", "manual"] as const;
export type BackupReason = (typeof BACKUP_REASONS)[number];

/**
 * One archive of a workspace's home volume (`meetpoint-home-<workspace id>`): a tar file under the
 * platform's workspace backups directory, with its size in bytes and SHA-256 (checked before a
 * restore). The newest MEETPOINT_WORKSPACE_BACKUP_KEEP per workspace are kept.
 */
export const workspaceBackups = pgTable(
  "workspace_backups",
  {
    id: id(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    /** Relative to the workspace backups directory. */
    file: text("file").notNull(),
    sizeBytes: bigint("size_bytes", { mode: "number" }).notNull(),
    sha256: text("sha256").notNull(),
    reason: text("reason", { enum: BACKUP_REASONS }).notNull(),
    /** Who pressed "Back up now"; null for the schedule. */
    createdBy: uuid("created_by"),
    createdByName: text("created_by_name").notNull(),
    createdAt: at("created_at").notNull(),
  },
  (t) => [index("workspace_backups_workspace_idx").on(t.workspaceId, t.createdAt)],
);
