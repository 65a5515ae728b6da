// A customer's jump workspace: template, state, remote-access profile, egress allow-list, access.
import type { FC } from "hono/jsx";
import {
  allowListText,
  ESP_PROPOSALS,
  IKE_PROPOSALS,
  profileEndpoints,
  type StoredIpsec,
  type StoredOpenVpn,
  type WorkspaceView,
} from "../../workspaces/index.ts";
import { ActionButton, DataTable, SelectField, SubmitForm, VersionField } from "./components.tsx";
import { Field, Time } from "./layout.tsx";

/**
 * The sealed secrets: that each is stored and when it last changed, never its value nor a hash of
 * it (a hash of a password or PSK could be guessed offline). Profiles stored before change times
 * were kept list only the names of their secrets.
 */
const SealedSecrets: FC<{ sealed?: Record<string, string>; legacy?: Record<string, string> }> = ({
  sealed,
  legacy,
}) => {
  const entries: [string, string | null][] = sealed
    ? Object.entries(sealed)
    : Object.keys(legacy ?? {}).map((name) => [name, null]);
  if (entries.length === 0) return <p class="muted">No secrets stored with this profile.</p>;
  return (
    <ul>
      {entries.map(([name, changedAt]) => (
        <li>
          {name}: stored, sealed
          {changedAt ? (
            <>
              ; changed <Time at={new Date(changedAt)} />
            </>
          ) : null}
        </li>
      ))}
    </ul>
  );
};

/** What the stored profile is, without secrets. */
export const ProfileSummary: FC<{ view: WorkspaceView }> = ({ view }) => {
  const w = view.workspace;
  if (!w.profileKind) return <p class="muted">No remote-access profile yet.</p>;
  if (w.profileKind === "openvpn") {
    const p = w.profile as unknown as StoredOpenVpn;
    return (
      <div>
        <p>
          OpenVPN client config; remotes:{" "}
          {p.remotes.map((r) => `${r.host} ${r.protocol}/${r.port}`).join(", ")}
        </p>
        <SealedSecrets sealed={p.sealed} legacy={p.fingerprints} />
        <details>
          <summary>Config as stored (secrets replaced by [sealed])</summary>
          <pre class="config mono">{p.config}</pre>
        </details>
      </div>
    );
  }
  const p = w.profile as unknown as StoredIpsec;
  return (
    <div>
      <p>
        IPsec (strongSwan) to <code>{p.settings.remoteAddress}</code>,{" "}
        {p.settings.auth === "psk" ? "pre-shared key" : "certificate"}; local id{" "}
        <code>{p.settings.localId}</code>, remote id <code>{p.settings.remoteId}</code>; remote
        subnets {p.settings.remoteSubnets.join(", ")}
      </p>
      {p.certificateFingerprint ? (
        <p>
          Workspace certificate SHA-256 <span class="mono">{p.certificateFingerprint}</span>
        </p>
      ) : null}
      <SealedSecrets sealed={p.sealed} legacy={p.fingerprints} />
    </div>
  );
};

/** The effective egress: the VPN endpoints (always) and the allow-list. */
export const EgressTable: FC<{ view: WorkspaceView }> = ({ view }) => {
  const rows = [
    ...profileEndpoints(view.workspace).map((e) => ({
      to: e.host,
      what: e.port === null ? e.protocol : `${e.protocol}/${e.port}`,
      why: "VPN endpoint (from the profile)",
    })),
    ...view.workspace.allowList.map((e) => ({
      to: e.destination,
      what:
        e.port === null
          ? e.protocol === "icmp"
            ? "icmp"
            : `${e.protocol}, every port`
          : `${e.protocol}/${e.port}`,
      why: e.direct
        ? "allow-list (direct: also outside the customer's VPN)"
        : "allow-list (through the customer's VPN)",
    })),
  ];
  return (
    <DataTable
      head={["Destination", "Protocol", "Why"]}
      rows={rows}
      empty="Nothing: the workspace reaches no address until it has a profile."
      row={(r) => (
        <tr>
          <td>
            <code>{r.to}</code>
          </td>
          <td>{r.what}</td>
          <td>{r.why}</td>
        </tr>
      )}
    />
  );
};

/** The forms of someone who manages the workspace. */
export const ManageForms: FC<{
  view: WorkspaceView;
  version: string;
  csrfToken: string;
  templates: [string, string][];
  technicians: [string, string][];
  grants: { userId: string; username: string; displayName: string; since: Date }[];
}> = (p) => {
  const id = p.view.workspace.id;
  return (
    <>
      <h2>Template</h2>
      <div class="card">
        <SubmitForm
          action={`/workspaces/${id}/template`}
          csrfToken={p.csrfToken}
          submit="Change template"
          kind="secondary"
          row
        >
          <VersionField version={p.version} />
          <SelectField
            label="Template"
            name="templateId"
            options={p.templates}
            selected={p.view.workspace.templateId}
          />
        </SubmitForm>
      </div>
      <h2>Remote-access profile</h2>
      <details class="card">
        <summary>OpenVPN client config</summary>
        <form method="post" action={`/workspaces/${id}/profile`}>
          <input type="hidden" name="_csrf" value={p.csrfToken} />
          <input type="hidden" name="kind" value="openvpn" />
          <VersionField version={p.version} />
          <label>
            <span>The customer's .ovpn (keys inline; they are sealed and never shown again)</span>
            <textarea name="profile" rows={12} required></textarea>
          </label>
          <button type="submit">Store OpenVPN profile</button>
        </form>
      </details>
      <details class="card">
        <summary>IPsec (strongSwan)</summary>
        <form method="post" action={`/workspaces/${id}/profile`}>
          <input type="hidden" name="_csrf" value={p.csrfToken} />
          <input type="hidden" name="kind" value="ipsec" />
          <VersionField version={p.version} />
          <Field
            label="Remote address"
            name="remoteAddress"
            hint="IP address or DNS name of the customer's gateway"
          />
          <Field
            label="Local identity"
            name="localId"
            hint="address, DNS name, user@domain or distinguished name"
          />
          <Field label="Remote identity" name="remoteId" />
          <Field label="Remote subnets" name="remoteSubnets" hint="CIDRs, separated by commas" />
          <SelectField
            label="Authentication"
            name="auth"
            options={[
              ["psk", "Pre-shared key"],
              ["certificate", "Certificate"],
            ]}
            selected="psk"
          />
          <Field
            label="Pre-shared key"
            name="psk"
            type="password"
            required={false}
            hint="at least 20 characters; sealed"
          />
          <label>
            <span>Certificate (PEM)</span>
            <textarea name="certificate" rows={4}></textarea>
          </label>
          <label>
            <span>Private key (PEM; sealed)</span>
            <textarea name="privateKey" rows={4}></textarea>
          </label>
          <label>
            <span>Remote CA (PEM: the CA the customer's VPN gateway certificate is issued by)</span>
            <textarea name="remoteCa" rows={4}></textarea>
          </label>
          <Field
            label="IKE proposals"
            name="ikeProposals"
            required={false}
            hint={`optional: ${IKE_PROPOSALS.join(", ")}`}
          />
          <Field
            label="ESP proposals"
            name="espProposals"
            required={false}
            hint={`optional: ${ESP_PROPOSALS.join(", ")}`}
          />
          <button type="submit">Store IPsec profile</button>
        </form>
      </details>
      <h2>Egress allow-list</h2>
      <div class="card">
        <form method="post" action={`/workspaces/${id}/allow-list`}>
          <input type="hidden" name="_csrf" value={p.csrfToken} />
          <VersionField version={p.version} />
          <label>
            <span>
              One entry a line: address or CIDR, tcp|udp|icmp, optional port, optional "direct".
              Reached only through the customer's VPN unless "direct" (then also outside it). DNS
              only when a server is listed (udp 53).
            </span>
            <textarea name="allowList" rows={6}>
              {allowListText(p.view.workspace.allowList)}
            </textarea>
          </label>
          <button type="submit">Save allow-list</button>
        </form>
      </div>
      <h2>Technicians with access</h2>
      <DataTable
        head={["Technician", "Since", ""]}
        rows={p.grants}
        empty="No technician has access yet."
        row={(g) => (
          <tr>
            <td>
              {g.displayName} ({g.username})
            </td>
            <td>
              <Time at={g.since} />
            </td>
            <td>
              <ActionButton
                action={`/workspaces/${id}/grants/${g.userId}/revoke`}
                csrfToken={p.csrfToken}
                kind="danger"
                confirm={`Revoke ${g.username}'s access?`}
              >
                Revoke
              </ActionButton>
            </td>
          </tr>
        )}
      />
      {p.technicians.length ? (
        <div class="card">
          <SubmitForm
            action={`/workspaces/${id}/grants`}
            csrfToken={p.csrfToken}
            submit="Grant access"
            row
          >
            <SelectField
              label="Technician"
              name="userId"
              options={p.technicians}
              placeholder="Choose a technician"
            />
          </SubmitForm>
        </div>
      ) : (
        <p class="muted">No other technician of this customer to grant access to.</p>
      )}
    </>
  );
};
