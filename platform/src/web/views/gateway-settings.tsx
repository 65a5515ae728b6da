// The gateway's signed settings as the portal shows them: the maintenance SSH server with its
// authorized keys, and where the operator UI answers; forms only for platform admins.
import type { FC } from "hono/jsx";
import type { Principal } from "../../access/index.ts";
import type { GatewaySettingsView } from "../../gateways/index.ts";
import type { Gateway } from "../../masterdata/index.ts";
import {
  ActionButton,
  DataTable,
  PortalPage,
  SelectField,
  SubmitForm,
  treeCrumbs,
} from "./components.tsx";
import { Field, formatTime, Notice } from "./layout.tsx";

const REACH: [string, string][] = [
  ["lan", "Machine network only (default)"],
  ["lan-and-wan", "Machine network and the customer network (WAN side)"],
];

/** Whether the gateway reported applying the newest settings. */
const AppliedNotice: FC<{ gateway: Gateway; settings: GatewaySettingsView }> = (p) => {
  if (p.settings.version === null) return null;
  const applied = p.gateway.agent?.settingsVersion ?? 0;
  return applied >= p.settings.version ? (
    <Notice kind="ok">The gateway applies these settings (version {p.settings.version}).</Notice>
  ) : (
    <Notice kind="warn">
      Version {p.settings.version} is signed and waits for the gateway's next heartbeat (it applies
      version {applied}).
    </Notice>
  );
};

export function GatewaySettingsPage(props: {
  gateway: Gateway;
  settings: GatewaySettingsView;
  canChange: boolean;
  /** The caller may re-key the gateway (manages its customer's master data). */
  canRekey: boolean;
  csrfToken: string;
  principal: Principal;
}) {
  const { gateway, settings, canChange, csrfToken } = props;
  const base = `/gateways/${gateway.id}/settings`;
  return (
    <PortalPage
      title={`${gateway.name}: SSH and operator UI`}
      csrfToken={csrfToken}
      principal={props.principal}
      crumbs={treeCrumbs("SSH and operator UI", gateway)}
    >
      <AppliedNotice gateway={gateway} settings={settings} />
      <div class="card">
        <p>
          Signed by the platform and applied by the gateway; nobody at the gateway can change them.
          The SSH server is key-only and listens on the machine network and — only while a platform
          admin has a maintenance session open — on the gateway's tunnel address, never on the WAN
          side. Every login and failed attempt is in the audit log.
        </p>
        <dl>
          <dt>SSH server</dt>
          <dd>{settings.sshEnabled ? "on" : "off"}</dd>
          <dt>Keys entered by the operator</dt>
          <dd>{settings.operatorKeys ? "allowed" : "not allowed"}</dd>
          <dt>Operator UI and local consent API answer on</dt>
          <dd>{REACH.find(([value]) => value === settings.uiReach)?.[1]}</dd>
          <dt>SSH host key (reported by the gateway)</dt>
          <dd class="mono">{gateway.agent?.sshHostKey ?? "—"}</dd>
          {settings.updatedAt ? (
            <>
              <dt>Last change</dt>
              <dd>
                {formatTime(settings.updatedAt)} by {settings.updatedBy}
              </dd>
            </>
          ) : null}
        </dl>
      </div>
      {canChange ? (
        <div class="card">
          <SubmitForm action={base} csrfToken={csrfToken} submit="Sign and send to the gateway">
            <input type="hidden" name="seen" value={settings.updatedAt?.toISOString() ?? ""} />
            <label>
              <input type="checkbox" name="sshEnabled" value="on" checked={settings.sshEnabled} />{" "}
              SSH maintenance server on
            </label>
            <label>
              <input
                type="checkbox"
                name="operatorKeys"
                value="on"
                checked={settings.operatorKeys}
              />{" "}
              The operator may add SSH keys in the operator UI
            </label>
            <SelectField
              label="Operator UI answers on"
              name="uiReach"
              options={REACH}
              selected={settings.uiReach}
            />
          </SubmitForm>
        </div>
      ) : null}
      <h2>Authorized SSH keys</h2>
      <DataTable
        rows={settings.keys}
        head={["Label", "Fingerprint", "Added", ""]}
        row={(key) => (
          <tr>
            <td>{key.label}</td>
            <td class="mono">{key.fingerprint}</td>
            <td>
              {formatTime(new Date(key.addedAt))} by {key.addedBy}
            </td>
            <td>
              {canChange ? (
                <ActionButton
                  action={`${base}/keys/remove`}
                  csrfToken={csrfToken}
                  hidden={{ fingerprint: key.fingerprint }}
                  kind="secondary"
                  confirm="Remove this key from the gateway?"
                >
                  Remove
                </ActionButton>
              ) : null}
            </td>
          </tr>
        )}
        empty="No keys: nobody can log in."
      />
      {canChange ? (
        <div class="card">
          <SubmitForm action={`${base}/keys`} csrfToken={csrfToken} submit="Authorize key">
            <Field
              label="Public key (ssh-ed25519, ecdsa-sha2-nistp256/384/521, or ssh-rsa of 3072 bits or more)"
              name="key"
              placeholder="ssh-ed25519 AAAA… name@host"
            />
            <Field label="Label (whose key)" name="label" required={false} />
          </SubmitForm>
        </div>
      ) : null}
      {props.canRekey ? (
        <>
          <h2>Enrollment bundle with the plant's HTTP proxy</h2>
          <div class="card">
            <p class="muted">
              For a plant whose only way out is an HTTP proxy: re-keys the gateway (the current
              secret and bundle stop working) and offers, once, a bundle that tells it to use this
              proxy for both channels. The operator UI's or the environment's proxy takes precedence
              over the bundle's.
            </p>
            <SubmitForm
              action={`${base}/bundle`}
              csrfToken={csrfToken}
              submit="Re-key with this proxy"
              kind="secondary"
              confirm="The gateway's current secret and enrollment bundle stop working at once. Continue?"
            >
              <Field
                label="Proxy host (no http://)"
                name="proxyHost"
                placeholder="proxy.plant.example"
              />
              <Field label="Proxy port" name="proxyPort" placeholder="3128" inputmode="numeric" />
              <Field label="Proxy user (if it asks)" name="proxyUser" required={false} />
              <Field label="Proxy password" name="proxyPassword" type="password" required={false} />
            </SubmitForm>
          </div>
        </>
      ) : null}
    </PortalPage>
  );
}
