// Which algorithms a provider's ID tokens may be signed with (pure): the asymmetric ones its
// discovery document lists (OpenID Connect Discovery 1.0 §3, id_token_signing_alg_values_supported),
// or the one an admin pinned. The provider's list is a set, not a preference order: Keycloak lists
// ES384 first and signs with RS256 by default, Auth0 lists HS256 first and signs with RS256.
import { ID_TOKEN_ALGORITHMS, type IdTokenAlgorithm } from "../../db/index.ts";

export type AlgorithmChoice =
  | { ok: true; algorithms: IdTokenAlgorithm[] }
  | { ok: false; problem: string };

const ASYMMETRIC = new Set<string>(ID_TOKEN_ALGORITHMS);

function isAsymmetric(alg: string): alg is IdTokenAlgorithm {
  return ASYMMETRIC.has(alg);
}

/**
 * The algorithms to accept. `advertised` is the provider's id_token_signing_alg_values_supported
 * (undefined when its metadata leaves it out: then RS256, the default of OpenID Connect Core 1.0
 * §3.1.3.7); `pinned` is the admin's choice or null. A token must also be signed with a key its
 * JWKS holds, which the signature check sees to. Fails with the reason in words when nothing
 * acceptable remains.
 */
export function idTokenAlgorithms(
  advertised: readonly string[] | undefined,
  pinned: IdTokenAlgorithm | null,
): AlgorithmChoice {
  const listed = advertised ?? ["RS256"];
  if (pinned) {
    if (!listed.includes(pinned))
      return {
        ok: false,
        problem: `its ID tokens are to be signed with ${pinned} (set on the provider's page), but the provider lists only ${listed.join(", ") || "nothing"}`,
      };
    return { ok: true, algorithms: [pinned] };
  }
  const algorithms = listed.filter(isAsymmetric);
  if (algorithms.length === 0)
    return {
      ok: false,
      problem: `it signs ID tokens only with ${listed.join(", ") || "nothing"}; Meetpoint accepts only asymmetric signatures (${ID_TOKEN_ALGORITHMS.join(", ")}) — give the provider's client a signing key (RSA or EC)`,
    };
  return { ok: true, algorithms };
}
