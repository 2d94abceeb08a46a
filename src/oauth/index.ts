/**
 * The OAuth protocol core: pure request/process pairs with an injected fetch. No terminal, no
 * store, no server. Hot-path callers (a refresh inside `authctl token`) may import `./token.ts`
 * directly to load less.
 */
export {
  base64url,
  computeS256Challenge,
  createPkce,
  createState,
  type Pkce,
  type RandomBytes,
} from "./pkce.ts";
export { assertSecureEndpoint, hostPort, isLoopbackHost, isSecureEndpoint } from "./endpoints.ts";
export { buildAuthorizeUrl, type AuthorizeUrlInput } from "./authorize-url.ts";
export {
  issuerMismatchError,
  parseCallback,
  parsePastedInput,
  type ExpectedIssuer,
  STATE_MISMATCH_MESSAGE,
  type CallbackResult,
  type PastedCode,
} from "./callback.ts";
export {
  authorizationCodeGrantRequest,
  parseTokenSet,
  processTokenResponse,
  refreshTokenGrantRequest,
  type AuthorizationCodeGrantInput,
  type ProcessTokenOptions,
  type RefreshTokenGrantInput,
  type TokenSet,
} from "./token.ts";
export {
  classifyDeviceTokenResponse,
  DEFAULT_DEVICE_INTERVAL_SECONDS,
  DEVICE_CODE_GRANT_TYPE,
  deviceAuthorizationRequest,
  deviceTokenRequest,
  pollDeviceToken,
  processDeviceAuthorizationResponse,
  type DeviceAuthorization,
  type DeviceAuthorizationInput,
  type DevicePollEvent,
  type DevicePollOutcome,
  type DeviceTokenInput,
  type PollDeviceTokenOptions,
} from "./device.ts";
export {
  clientAuthFor,
  discover,
  discoveryRequest,
  discoveryUrls,
  processDiscoveryResponse,
  type AuthorizationServerMetadata,
} from "./discovery.ts";
export {
  processRevocationResponse,
  revocationRequest,
  type RevocationInput,
  type RevocationResult,
} from "./revoke.ts";
export {
  decodeIdToken,
  idTokenAfterRefresh,
  validateIdToken,
  type IdTokenClaims,
  type IdTokenExpectations,
} from "./id-token.ts";
export {
  DEFAULT_TIMEOUT_MS,
  encodeBody,
  sendRequest,
  type BodyEncoding,
  type ClientAuthMethod,
  type HttpOptions,
} from "./_http.ts";
// For the request/process pairs of provider endpoints that are not OAuth (providers/*-endpoints).
export {
  createOAuthError,
  oauthErrorIn,
  type JsonObject,
  oneLine,
  isTokenText,
  optionalString,
  optionalUrl,
  readJsonObject,
  requireString,
  requireToken,
  type OAuthErrorFields,
} from "./_response.ts";
