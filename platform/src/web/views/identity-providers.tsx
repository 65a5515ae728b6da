// Identity provider views: the fields of a provider's settings (empty for a new one).
import { ID_TOKEN_ALGORITHMS } from "../../db/index.ts";
import type { IdentityProvider } from "../../identity/index.ts";
import { NAME_MAX } from "../../shared/index.ts";
import { SelectField, VersionField } from "./components.tsx";
import { Field } from "./layout.tsx";

const CLIENT_AUTHS: [string, string][] = [
  ["client_secret_basic", "Client secret"],
  ["private_key_jwt", "Private key JWT (Meetpoint makes the key)"],
];

/**
 * The settings of `provider` (with the version its form saw), or of a new provider when there is
 * none. The fields carry the server's limits.
 */
export function ProviderFields(props: { provider?: IdentityProvider; version?: string }) {
  const p = props.provider;
  return (
    <>
      {props.version ? <VersionField version={props.version} /> : null}
      <Field
        label="Short name (in the redirect URI)"
        name="slug"
        value={p?.slug}
        placeholder="acme-keycloak"
        pattern="[a-z0-9][a-z0-9\-]{0,30}"
        maxlength={31}
        hint="1–31 lowercase letters, digits and dashes"
      />
      <Field
        label="Button text"
        name="displayName"
        value={p?.displayName}
        placeholder="ACME Service ID"
        maxlength={NAME_MAX}
      />
      <Field
        label="Issuer URL"
        name="issuer"
        type="url"
        value={p?.issuer}
        placeholder="https://id.example.com/realms/service"
        pattern="https://.*"
        hint="https://…, exactly as the provider writes it"
      />
      <Field label="Client id" name="clientId" value={p?.clientId} maxlength={200} />
      <SelectField
        label="Client authentication"
        name="clientAuth"
        options={CLIENT_AUTHS}
        selected={p?.clientAuth === "private_key_jwt" ? "private_key_jwt" : "client_secret_basic"}
      />
      <Field
        label={p ? "Client secret (empty keeps the current one)" : "Client secret"}
        name="clientSecret"
        type="password"
        required={false}
        maxlength={500}
      />
      <SelectField
        label="ID token signature"
        name="idTokenAlg"
        options={[
          ["", "Any asymmetric algorithm the provider lists"],
          ...ID_TOKEN_ALGORITHMS.map((alg): [string, string] => [alg, `Only ${alg}`]),
        ]}
        selected={p?.idTokenAlg ?? ""}
      />
      <Field label="Scopes" name="scopes" value={p?.scopes ?? "openid profile"} />
      <Field label="Groups claim" name="groupsClaim" value={p?.groupsClaim ?? "groups"} />
      <Field
        label="Company claim (optional)"
        name="companyClaim"
        value={p?.companyClaim ?? ""}
        required={false}
        maxlength={100}
        placeholder="organization, company, or Entra ID's companyName"
        hint="At each sign-in the user's company is set from this claim when the token carries it"
      />
      <Field
        label="amr values that mean MFA"
        name="mfaAmr"
        value={p?.mfaAmr.join(" ")}
        required={false}
        placeholder="mfa otp hwk swk (default list)"
      />
      <Field
        label="acr value that means MFA (optional)"
        name="mfaAcr"
        value={p?.mfaAcr ?? ""}
        required={false}
        maxlength={200}
      />
      <label>
        <span>
          CA certificate for the provider's HTTPS (PEM, optional: empty trusts the system's CAs)
        </span>
        <textarea name="caPem" rows={4}>
          {p?.caPem ?? ""}
        </textarea>
      </label>
    </>
  );
}
