// Identity: local accounts, second factor, portal sessions, roles and scopes, user administration.

export { FREE_FAILURES, lockDuration } from "./lockout.ts";
export * from "./oidc/index.ts";
export {
  hashPassword,
  passwordProblem,
  portalPasswordRules,
  randomPassword,
  verifyPassword,
} from "./passwords.ts";
export {
  changePassword,
  confirmTotpEnrolment,
  pendingTotpKey,
  SIGN_IN_REFUSED,
  type StepResult,
  signInWithPassword,
  verifySecondFactor,
} from "./sign-in.ts";
export { newTotpKey, qrSvg, totpCode, totpKeyForTyping, totpUri, verifyTotp } from "./totp.ts";
export * from "./users.ts";
export {
  createWebSession,
  endAllWebSessions,
  endWebSession,
  loadWebSession,
  loadWebSessionById,
  randomToken,
  rotateWebSession,
  type SessionPolicy,
  type WebSession,
} from "./web-sessions.ts";
