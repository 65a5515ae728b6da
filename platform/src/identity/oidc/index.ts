// Sign-in through OpenID Connect providers: configuration, the flow, MFA policy, provisioning.
export { type AlgorithmChoice, idTokenAlgorithms } from "./algorithms.ts";
export { OidcClients, OidcError, OidcSetupError, OidcUnreachableError } from "./client.ts";
export {
  DEFAULT_MFA_AMR,
  DEFAULT_MFA_POLICY,
  grantsFor,
  groupsOf,
  groupsOverage,
  mfaAsserted,
  policyFor,
} from "./policy.ts";
export {
  addMapping,
  createProvider,
  enabledProviders,
  getProvider,
  type IdentityProvider,
  listMappings,
  listProviders,
  mfaPolicyTable,
  providerVersion,
  removeMapping,
  setMfaPolicy,
  setProviderEnabled,
  updateProvider,
} from "./providers.ts";
export { keepOidcSessionAlive, providerLogoutUrl } from "./session.ts";
export {
  beginOidcSignIn,
  completeOidcSignIn,
  forgetStaleLogins,
  type OidcDeps,
  type OidcOutcome,
} from "./sign-in.ts";
