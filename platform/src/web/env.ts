// The types the web layer shares: dependencies and per-request variables.

import type { Context } from "../access/index.ts";
import type { Db } from "../db/index.ts";
import type { OidcDeps, WebSession } from "../identity/index.ts";
import type { ProxyPool } from "../masterdata/index.ts";
import type { MetricsAccess, PlatformMetrics } from "../metrics/index.ts";
import type { Pki } from "../pki/index.ts";
import type { RemoteAccess } from "../sessions/index.ts";
import type { Clock } from "../shared/index.ts";
import type { ForwarderStatus } from "../siem/index.ts";
import type { BackupDeps, VncRelay, WorkspaceRuntime } from "../workspaces/index.ts";
import type { AuthFailures } from "./auth-failures.ts";

import type { LoadShedder } from "./load-shedding.ts";

export interface AppDeps {
  db: Db;
  clock: Clock;
  session: { idleMs: number; absoluteMs: number };
  proxyPool: ProxyPool;
  pki: Pki;
  /** The remote-access core: data channels, remote sessions, gateway commands. */
  access: RemoteAccess;
  /** What enrollment bundles carry: the platform's address, and how long they can be imported. */
  enrollment: { platformUrl: string; validMs: number };
  /** Sign-in through identity providers. */
  oidc: OidcDeps;
  /**
   * Failed sign-ins, API tokens and gateway secrets: per-source throttles and aggregated audit
   * (flushed by the caller).
   */
  authFailures: AuthFailures;
  /** Local accounts (password + TOTP) may sign in; default true. */
  localSignIn?: boolean;
  /** Prometheus metrics at /metrics and who may read them; absent: no /metrics. */
  metrics?: { collector: PlatformMetrics; access: MetricsAccess };
  /** How the SIEM destinations are doing (the Status page shows it); absent: no SIEM export. */
  siemStatus?: () => ForwarderStatus[];
  /** Alert webhooks may point at loopback, link-local and private addresses; default false. */
  webhookAllowPrivate?: boolean;
  /** A mail server for email alerts is configured (MEETPOINT_SMTP_URL); default false. */
  emailConfigured?: boolean;
  /** Longest validity of an API token, in days; default 365. */
  apiTokenMaxDays?: number;
  /** The gateway API's requests in progress before it answers 429; default 256. */
  gatewayApiShedder?: LoadShedder;
  /** The browser relay to workspaces' desktops and their recordings; absent: no Open. */
  workspaceRelay?: VncRelay;
  /** Workspace home backups (Docker endpoint, directory); absent: the page offers none. */
  workspaceBackups?: BackupDeps;
  /** Starts and stops workspaces on the workspace Docker endpoint; absent: no Start/Stop. */
  workspaceRuntime?: WorkspaceRuntime;
}

export interface WebEnv {
  Variables: {
    deps: AppDeps;
    ip: string;
    session: WebSession | null;
    /** Set for signed-in requests: the domain context of the caller. */
    ctx: Context;
    csrfToken: string;
  };
}
