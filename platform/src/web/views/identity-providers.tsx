// Identity provider views: the fields of a provider's settings (empty for a new one).
import { ID_TOKEN_ALGORITHMS } from "../../db/index.ts";
import type { IdentityProvider } from "../../identity/index.ts";
import { SelectField } from "./components.tsx";
import { Field } from "./layout.tsx";

const CLIENT_AUTHS: [string, string][] = [
  ["client_secret_basic", "Client secret"],
  ["private_key_jwt", "Private key JWT (Meetpoint makes the key)"],
];

/** The settings of `provider`, or of a new provider when there is none. */
export function ProviderFields(props: { provider?: IdentityProvider }) {
  const p = props.provider;
  return (
    <>
      <Field
        label="Short name (in the redirect URI)"
        name="slug"
        value={p?.slug}
        placeholder="acme-keycloak"
      />
      <Field
        label="Button text"
        name="displayName"
        value={p?.displayName}
        placeholder="ACME Service ID"
      />
      <Field
        label="Issuer URL"
        name="issuer"
        value={p?.issuer}
        placeholder="https://id.example.com/realms/service"
      />
      <Field label="Client id" name="clientId" value={p?.clientId} />
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
