// The admin API (/api/v1) with its OpenAPI document, and the API tokens it is used with.
export { type ApiDeps, adminApi, OPENAPI_INFO, openApiDocument } from "./app.ts";
export {
  type ApiTokenView,
  checkApiToken,
  createApiToken,
  listApiTokens,
  revokeApiToken,
  TOKEN_PREFIX,
  tokenInput,
} from "./tokens.ts";
