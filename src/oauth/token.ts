/**
 * Token endpoint requests (RFC 6749 §4.1.3 and §6) and the shared check of their answers
 * (§5.1, §5.2). Installed apps are public clients: a client secret, when a provider ships one
 * (Google), is not secret and travels in the body (client_secret_post). Nothing here retries:
 * a retried refresh could replay a refresh token the server already rotated.
 */
import type { HttpClient } from "../deps.ts";
import { AuthctlError } from "../errors.ts";
import { registerSecret } from "../redact.ts";
import { assertSecureEndpoint } from "./endpoints.ts";
import {
  applyClientAuth,
  type BodyEncoding,
  type ClientAuthMethod,
  type HttpOptions,
  postRequest,
  withExtraParams,
} from "./_http.ts";
import {
  assertSuccessStatus,
  type JsonObject,
  oauthErrorIn,
  optionalSeconds,
  optionalString,
  optionalToken,
  readJsonObject,
  requireString,
  requireToken,
} from "./_response.ts";

const WHAT = "token endpoint";

export interface TokenSet {
  access_token: string;
  /** Always "Bearer": other token types are refused. */
  token_type: string;
  refresh_token?: string;
  id_token?: string;
  scope?: string;
  expires_in?: number;
  /** Epoch ms: now + expires_in × 1000, the server's real expiry (apply refresh margins when reading). */
  expires_at?: number;
  /** The whole answer, for provider fields such as Qwen's `resource_url`. */
  raw: Record<string, unknown>;
}

export interface AuthorizationCodeGrantInput extends HttpOptions {
  tokenUrl: string | URL;
  clientId?: string;
  clientSecret?: string;
  clientAuth?: ClientAuthMethod;
  code: string;
  redirectUri: string;
  codeVerifier: string;
  body: BodyEncoding;
  /** Provider parameters (Anthropic wants `state`); they may not replace standard ones. */
  extra?: Record<string, string>;
}

export interface RefreshTokenGrantInput extends HttpOptions {
  tokenUrl: string | URL;
  clientId?: string;
  clientSecret?: string;
  clientAuth?: ClientAuthMethod;
  refreshToken: string;
  /** Space-separated; left out when undefined. */
  scope?: string;
  body: BodyEncoding;
  extra?: Record<string, string>;
}

export async function authorizationCodeGrantRequest(
  http: HttpClient,
  input: AuthorizationCodeGrantInput,
): Promise<Response> {
  return send(http, input, {
    grant_type: "authorization_code",
    code: input.code,
    redirect_uri: input.redirectUri,
    client_id: input.clientId,
    client_secret: input.clientSecret,
    code_verifier: input.codeVerifier,
  });
}

export async function refreshTokenGrantRequest(
  http: HttpClient,
  input: RefreshTokenGrantInput,
): Promise<Response> {
  return send(http, input, {
    grant_type: "refresh_token",
    refresh_token: input.refreshToken,
    client_id: input.clientId,
    client_secret: input.clientSecret,
    scope: input.scope,
  });
}

async function send(
  http: HttpClient,
  input: AuthorizationCodeGrantInput | RefreshTokenGrantInput,
  core: Record<string, string | undefined>,
): Promise<Response> {
  const url = assertSecureEndpoint(input.tokenUrl, WHAT);
  const auth = applyClientAuth(
    withExtraParams(core, input.extra, "token request"),
    input.clientAuth,
    input.headers,
  );
  return postRequest(http, url, WHAT, auth.params, input.body, { ...input, headers: auth.headers });
}

export interface ProcessTokenOptions {
  /** Epoch ms when the answer arrived; expires_at is computed from it. */
  now: number;
  /** Names the endpoint in messages (default "token endpoint"). */
  what?: string;
  /**
   * Called with the refresh token of a success answer before any other field is checked: the
   * server has already rotated, so the caller must keep it even when the rest of the answer is
   * refused, or the next refresh would replay a spent token (RFC 9700 §4.14.2).
   */
  onRefreshToken?: (refreshToken: string) => void;
}

/**
 * Checks a token answer: HTTP 200 (201 tolerated) with a JSON object, a non-empty access_token,
 * a bearer token_type, and well-typed optional fields. OAuth errors become OAUTH errors whatever
 * the status, because some servers (GitHub) send them with HTTP 200.
 */
export async function processTokenResponse(
  response: Response,
  options: ProcessTokenOptions,
): Promise<TokenSet> {
  const what = options.what ?? WHAT;
  const json = await readJsonObject(response, what);
  const oauthError = oauthErrorIn(json, response.status, what);
  if (oauthError) throw oauthError;
  assertSuccessStatus(json, response.status, [200, 201], what);
  if (typeof json.refresh_token === "string" && json.refresh_token !== "")
    options.onRefreshToken?.(json.refresh_token);
  return parseTokenSet(json, options.now, what);
}

/** Field checks for a token answer already read as JSON (device polling reuses it). */
export function parseTokenSet(json: JsonObject, now: number, what: string = WHAT): TokenSet {
  const access_token = requireToken(json, "access_token", what);
  const token_type = parseTokenType(json, what);
  const expires_in = optionalSeconds(json, "expires_in", what);
  const tokens: TokenSet = { access_token, token_type, raw: json };
  const refresh_token = optionalToken(json, "refresh_token", what);
  const id_token = optionalString(json, "id_token", what);
  // Known to the redactor from the moment they arrive, before any later check can fail and
  // quote them (issue 13.9).
  for (const secret of [access_token, refresh_token, id_token]) registerSecret(secret);
  const scope = parseScope(json, what);
  if (refresh_token !== undefined) tokens.refresh_token = refresh_token;
  if (id_token !== undefined) tokens.id_token = id_token;
  if (scope !== undefined) tokens.scope = scope;
  if (expires_in !== undefined) {
    tokens.expires_in = expires_in;
    tokens.expires_at = now + Math.round(expires_in * 1000);
  }
  return tokens;
}

/**
 * RFC 6749 §5.1 makes token_type required, but real answers leave it out (providers.md lists
 * none in Anthropic's or MiniMax's token answers); a missing one is taken as Bearer. A present
 * one must be a string and bearer (case-insensitive, §5.1): a client must not use a token whose
 * type it does not understand (§7.1), such as a DPoP-bound one.
 */
function parseTokenType(json: JsonObject, what: string): string {
  const value = json.token_type;
  if (value === undefined || value === null || value === "") return "Bearer";
  if (typeof value !== "string") {
    throw new AuthctlError("PROTOCOL", `${what} answered an invalid "token_type" (expected a string)`);
  }
  if (value.toLowerCase() !== "bearer") {
    const type = value.slice(0, 40);
    throw new AuthctlError(
      "PROTOCOL",
      `${what} issued a token of type "${type}"; authctl uses only bearer tokens`,
    );
  }
  return "Bearer";
}

/** `scope` is a space-separated string (§3.3); a JSON array of strings is accepted and joined. */
function parseScope(json: JsonObject, what: string): string | undefined {
  const value = json.scope;
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) {
    return value.length > 0 ? value.join(" ") : undefined;
  }
  return optionalString(json, "scope", what);
}
