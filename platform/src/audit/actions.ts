// The catalogue of audit actions: every entry the platform writes names one of these. The audit
// page's filter offers them, docs/audit-actions.md lists them (a test keeps both in step), and the
// code can only record what is listed here.

/** Each action ("<object>.<verb>", or a bare verb for sign-in events) and what it records. */
export const AUDIT_ACTIONS = {
  sign_in:
    "a sign-in attempt, local or through an identity provider (ok, or denied with the reason)",
  "sign_in.refused":
    "failed sign-in attempts from one source in one interval that named no account (an unknown username or sign-in option), and attempts throttled with 429, with their counts and the names tried (denied)",
  sign_out: "a portal session ended: by the user, or because the provider stopped renewing it",
  "account.password_change":
    "a user changed their own password (failed: the current password was wrong; it counts toward the lockout)",
  "account.totp_enrol": "a user set up their authenticator app (TOTP)",
  "user.create": "a local account was created (by an admin, or the first admin at first start)",
  "user.provision": "an account was created at its first sign-in through an identity provider",
  "user.update": "an admin changed an account's full name or company",
  "user.company_sync":
    "an account's company changed at sign-in because the identity provider's company claim changed",
  "user.disable": "an admin disabled an account (its portal sessions end)",
  "user.enable": "an admin enabled an account again",
  "user.reset_sign_in": "an admin reset an account's password and second factor",
  "role.grant": "an admin granted a role (platform-wide or for a customer)",
  "role.revoke": "an admin revoked a role",
  "role.sync": "roles changed at sign-in because the identity provider's groups changed",
  "identity_provider.create": "an identity provider (OpenID Connect) was added",
  "identity_provider.update": "an identity provider's settings changed",
  "identity_provider.enable": "an identity provider was enabled for sign-in",
  "identity_provider.disable": "an identity provider was disabled for sign-in",
  "identity_provider.map": "a provider group was mapped to a role",
  "identity_provider.unmap": "a group mapping was removed",
  "mfa_policy.set": "the second-factor policy of a role changed",
  "customer.create": "a customer was created",
  "customer.update": "a customer was renamed",
  "customer.delete":
    "a customer was deleted (denied: it still had sites or users with roles there, listed)",
  "site.create": "a site was created",
  "site.update": "a site was renamed",
  "site.delete": "a site was deleted (denied: it still had gateways, listed)",
  "site.window_policy":
    "a site's maintenance-window settings changed (who may create windows, whether they may overlap)",
  "maintenance_window.create":
    "a maintenance window was created (where: gateway UI or portal; start, end, weekly, technicians, services, mode)",
  "maintenance_window.cancel": "a maintenance window was cancelled (its sessions end)",
  "maintenance_window.arm":
    "a gateway armed its data channel for a maintenance window (reported by the gateway)",
  "site.consent_policy":
    "a site's consent policy changed (who must approve a technician's Connect, the longest session, how long a request waits)",
  "gateway.create": "a gateway was created (with its proxy address block and secret)",
  "gateway.update": "a gateway was renamed",
  "gateway.rekey": "a gateway got a new secret (the old one stops working)",
  "gateway.enrollment_bundle": "an enrollment bundle was issued for a gateway",
  "gateway.delete": "a gateway was deleted (denied: it still had machines, listed)",
  "gateway.settings":
    "a platform admin changed a gateway's signed settings (SSH server on or off, operator keys allowed, operator UI reach), with the new version",
  "gateway.ssh_key_add":
    "a platform admin authorized an SSH key on a gateway (fingerprint and label)",
  "gateway.ssh_key_remove": "a platform admin removed an authorized SSH key from a gateway",
  "gateway.ssh_login":
    "a login to a gateway's maintenance SSH server (ok) or a failed attempt (failed), reported by the gateway",
  "gateway.ssh_local_key":
    "the operator at a gateway added or removed an SSH key of their own in the operator UI, reported by the gateway",
  "machine.create": "a machine was created (with its proxy address)",
  "machine.update": "a machine's name or LAN address changed",
  "machine.delete": "a machine was deleted",
  "service.create": "a service (protocol and port) was added to a machine",
  "service.update": "a service was changed, enabled or disabled",
  "service.delete": "a service was removed",
  "ca.rotate": "the internal certificate authority was rotated",
  "access.denied":
    "a signed-in user was refused a page or an action they have no right to (403), with the address",
  "gateway_api.auth":
    "failed gateway API authentications (unknown gateway or wrong secret) from one source in one interval, with their count and the requests throttled (denied)",
  "gateway_session.request":
    "the operator pressed Connect, or the gateway reconnected after a fault: a data channel was requested (denied: refused, with the reason)",
  "gateway_session.online": "a gateway's data channel connected",
  "gateway_session.close": "a gateway's data channel closed, with the reason",
  "remote_session.request":
    "a technician pressed Connect: a one-time config was issued, or a request awaits approval (consent policies operator_approval, customer_approval, two_party; denied: refused, with the reason)",
  "remote_session.approve":
    "an approver allowed a technician's request (by whom, where: portal, gateway UI, local API, or a maintenance window that covered the request; party, whether it granted the request or waits for the other party; the services and minutes, the session's end)",
  "remote_session.deny":
    "an approver denied a technician's request (by whom, where: portal, gateway UI or local API)",
  "remote_session.expire": "nobody decided a technician's request in time: it expired",
  "remote_session.active": "a technician's one-time config connected",
  "remote_session.end":
    "a remote session ended, with the reason and the flow evidence (and the read-only Modbus counts as last reported)",
  "remote_session.modbus_evidence":
    "after a remote session ended, its gateway reported the read-only Modbus filter's final counts (reads passed, requests refused, by function code)",
  "remote_session.report":
    "someone downloaded the signed transparency report of an ended remote session (which session, the signing key, the audit range it names)",
  "vpn.connection_denied": "the platform refused an OpenVPN connection, with the reason",
  "gateway.report": "a gateway's heartbeat reported a new state or a new error",
  "gateway.enroll":
    "a gateway reported for the first time with its current secret: its enrollment bundle was imported there (reported by the agent)",
  "gateway.offline":
    "a gateway sent no heartbeat for longer than MEETPOINT_GATEWAY_OFFLINE_MINUTES",
  "gateway.reachable": "a gateway that was offline sent a heartbeat again",
  "retention.prune":
    "the retention job removed audit entries (behind a signed checkpoint) and ended sessions older than the retention period",
  "audit.head_export":
    "the head of the audit chain (sequence number and hash) was exported for an external copy",
  "audit.verify": "the scheduled verification of the audit chain (failed: where it broke)",
  "pki.renewal": "renewing the CRL failed (failed), or worked again after a failure (ok)",
  "instance.lost":
    "a platform instance stopped refreshing its liveness row: a surviving instance ended its data channels and remote sessions (instance_lost), with how many of each and when it was last seen",
  "siem.alarm":
    "a SIEM destination's spool passed its alarm size (failed), or went back below it (ok)",
  "api_token.create":
    "an API token was created (for its owner, or for a service account by an admin)",
  "api_token.revoke": "an API token was revoked",
  "api_token.use":
    "a request to /api/v1 with an API token (denied: expired, revoked or of a disabled user)",
  "api_token.refused":
    "requests to /api/v1 from one source in one interval without a token or with an unknown one, and requests throttled with 429, with their counts (denied)",
  "import.run":
    "a bulk import of sites, gateways, machines and services (denied: the rows at fault; nothing written)",
  "alert.subscribe": "an alert subscription (email or webhook) was added",
  "alert.unsubscribe": "an alert subscription was removed",
  "alert.failed": "an alert could not be delivered after its last retry",
  "workspace_template.propose":
    "a platform admin proposed a new workspace template or a change to one (image digest, limits, idle timeout, replicas: the values before and proposed; older pending proposals superseded)",
  "workspace_template.approve":
    "a second platform admin approved a template proposal: its values take effect at each workspace's next start (denied: the proposer tried to approve their own)",
  "workspace_template.reject":
    "a platform admin rejected a template proposal, or its proposer withdrew it",
  "workspace.create": "a customer's jump workspace was created on a template",
  "workspace.update": "a workspace was moved to another template",
  "workspace.delete":
    "a customer's workspace was deleted, with its access grants and its sealed profile",
  "workspace.profile":
    "a workspace's remote-access profile (OpenVPN or IPsec) was stored: its endpoints, whether the credentials were replaced and which sealed secrets were added, replaced, kept or removed; never the secrets nor a hash of them",
  "workspace.allow_list": "a workspace's egress allow-list changed (before and after)",
  "workspace.grant": "a technician was granted access to a customer's workspace",
  "workspace.revoke": "a technician's access to a customer's workspace was revoked",
  "workspace.start":
    "a workspace was started: who, the image, which replica answered and the replicas that failed (failed: why — Docker endpoint unreachable, image missing, desktop not answering in time; nothing left behind)",
  "workspace.stop":
    "a running workspace was stopped and its container removed (its home volume stays): who, and why — manual, idle (no browser connection for the template's idle timeout), template_change",
  "workspace.vpn":
    "the supervisor inside a workspace reported the customer's VPN up, or down after being up (with its last error)",
  "workspace.connect":
    "a browser connection to a workspace's desktop ended: who, from where, start, duration, bytes, the recording and its SHA-256 (failed: the relay could not reach or authenticate to the desktop; denied: refused before it began — no second factor, or another viewer connected)",
  "workspace.recordings_pruned":
    "the retention job deleted workspace recordings older than the retention period (failed: files it could not delete)",
  "workspace.backup_created":
    'a workspace\'s home volume was archived (scheduled, or "Back up now" by whom): the backup, its size and SHA-256',
  "workspace.backup_failed":
    "archiving a workspace's home volume failed, with the reason (the Docker endpoint, the helper image, the directory)",
  "workspace.backups_pruned":
    "a scheduled backup run deleted backups beyond the count kept per workspace: how many, of which workspaces (failed: files it could not delete)",
  "workspace.backup_restored":
    "a workspace's home volume was replaced by a backup: who, which backup and its SHA-256 (denied: the workspace was running, or the file did not match its SHA-256; failed: the Docker step, volume possibly emptied)",
} as const;

export type AuditAction = keyof typeof AUDIT_ACTIONS;

export const AUDIT_ACTION_NAMES = Object.keys(AUDIT_ACTIONS) as AuditAction[];
