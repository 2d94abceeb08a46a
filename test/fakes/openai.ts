/**
 * OpenAI's Codex "Sign in with ChatGPT" on 127.0.0.1, written from providers.md §4 (not from
 * authctl's code): the PKCE login, OpenAI's own device-code variant, single-use refresh tokens and
 * the token-exchange grant that buys an API key. One server stands for auth.openai.com (the only
 * host §4 names for these endpoints):
 *
 *   GET  /oauth/authorize   ?response_type=code&client_id&redirect_uri&scope&code_challenge
 *        &code_challenge_method=S256&state[&id_token_add_organizations&codex_cli_simplified_flow
 *        &originator&allowed_workspace_id]   (a login page in reality; here a 302 at once)
 *   POST /oauth/token       form: authorization_code → {id_token, access_token, refresh_token, expires_in}
 *                           JSON or form: refresh_token → {id_token, access_token, refresh_token}
 *                           form: urn:ietf:params:oauth:grant-type:token-exchange → {access_token:"sk-proj-…"}
 *   POST /oauth/revoke      JSON {token, token_type_hint, client_id?} → 200, as openai/codex
 *                           codex-rs/login/src/auth/revoke.rs sends it; a form body → 400 and
 *                           nothing revoked (codex is the only source, and it sends JSON)
 *   POST /api/accounts/deviceauth/usercode  JSON {client_id} → {device_auth_id, user_code, interval:"5"}
 *   POST /api/accounts/deviceauth/token     JSON {device_auth_id, user_code} → 403 pending,
 *                           then 200 {authorization_code, code_challenge, code_verifier}
 *   GET  /codex/device      the page the user visits to enter the code (approve() stands for it)
 *   GET  /deviceauth/callback  a page; only its URL matters (the device code's redirect_uri)
 *
 *   const fake = startOpenAIFake({ authorize: "missing_codex_entitlement" });
 *   fake.options.authorize = "approve";               // behaviour may change between steps
 *   fake.approve(userCode);                           // the user entered the device code
 *
 * id_token and access_token are unsigned JWT-shaped strings (base64url JSON header.payload and a
 * random signature) with `https://api.openai.com/auth: {chatgpt_account_id, chatgpt_plan_type}`,
 * `email`, `exp`, `iat`, `iss`, `aud`, `sub`.
 *
 * Choices where §4 is silent (marked "undocumented" below):
 * - /authorize accepts only http://localhost:1455/auth/callback and :1457 (the fixed allow-list of
 *   §4); the device redirect `${url}/deviceauth/callback` is accepted only at /oauth/token, for codes
 *   the device flow issued; a bad /authorize request gets a 400 HTML page, never a redirect;
 *   scope must be non-empty, from the two sets §4 lists, and include openid;
 * - token endpoint errors other than refresh are `{error, error_description}` at 400 (401
 *   invalid_client for a wrong client_id); a code whose exchange fails stays usable;
 * - refresh errors: §4 names the codes and says a 401 is permanent, not the body. Default
 *   (`refreshErrorStyle: "nested_401"`): 401 `{"error":{"code":"refresh_token_reused","message":…}}`;
 *   "flat_400" gives 400 `{"error":"refresh_token_reused","error_description":…}` instead;
 * - a refresh token that was never issued also answers refresh_token_invalidated;
 * - a refresh answers with all three tokens (§4 marks each optional) and no expires_in;
 * - the failing API-key exchange answers 400 `{error:"invalid_grant", error_description}`;
 * - device polls: pending is 403 (option 404) with `{"error":{"code":"deviceauth_authorization_pending"}}`;
 *   an unknown device_auth_id or a user_code that does not match it gets 400; after 15 minutes
 *   (§4) polls keep getting "pending": the client must stop on its own; a poll after approval
 *   answers the same 200 again (the code is single-use at /oauth/token anyway);
 * - expires_in (and the JWT exp) default to 3600 s;
 * - revoking a refresh token makes it answer refresh_token_invalidated; revoking is 200 always.
 *
 * `requests` holds every request, in order; `counts` counts requests per endpoint (token grants by
 * grant_type) whatever the answer; `issued` lists what was handed out; `authorizations` holds the
 * §4 extra parameters of each valid /authorize request.
 */
import { randomBytes } from "node:crypto";

import {
  b64url as b64,
  bodyReader,
  FORM,
  htmlPage,
  isForm,
  isJson,
  isS256Challenge,
  JSON_TYPE,
  mediaType,
  NO_STORE,
  oauthError,
  redirect,
  requireClient,
  s256,
  serveFake,
  verifierMatches,
  type RecordedRequest,
} from "./_kit.ts";

export const OPENAI_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann";
export const OPENAI_REDIRECT_URIS = [
  "http://localhost:1455/auth/callback",
  "http://localhost:1457/auth/callback",
] as const;
/** §4 "Scopes": pi/llxprt's set and openai/codex's larger one. */
export const OPENAI_SCOPES = [
  "openid",
  "profile",
  "email",
  "offline_access",
  "api.connectors.read",
  "api.connectors.invoke",
] as const;
export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
export const ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token";
export const AUTH_CLAIM = "https://api.openai.com/auth";

export type RefreshErrorCode = "refresh_token_expired" | "refresh_token_reused" | "refresh_token_invalidated";

export interface OpenAIFakeOptions {
  /** what GET /oauth/authorize does once the request is valid (default "approve") */
  authorize?: "approve" | "deny" | "missing_codex_entitlement";
  /** forces refresh_token grants to fail with this code (default: only real reuse/revocation fail) */
  refresh?: RefreshErrorCode;
  /** body and status of refresh errors (default "nested_401"; see the header comment) */
  refreshErrorStyle?: "nested_401" | "flat_400";
  /** default "ok"; "fail" makes the token-exchange grant answer 400 */
  apiKeyExchange?: "ok" | "fail";
  /** default true; false makes /api/accounts/deviceauth/usercode answer 404 */
  deviceEnabled?: boolean;
  /** the `interval` string of the usercode answer (default "5") */
  deviceInterval?: string;
  /** the name of the user code in the usercode answer: §4 says `user_code|usercode` (default user_code) */
  userCodeField?: "user_code" | "usercode";
  /** the status of a pending poll; §4 says 403/404 (default 403) */
  pendingStatus?: 403 | 404;
  /** seconds, access/id token lifetime (default 3600) */
  expiresIn?: number;
  accountId?: string;
  planType?: string;
  email?: string;
}

export interface OpenAIFakeRequest
  extends RecordedRequest<Record<string, unknown>, "contentType" | "query" | "headers"> {
  /** the JSON object body as sent, or the parsed form; {} otherwise */
  body: Record<string, unknown>;
}

export interface OpenAIFake {
  /** http://127.0.0.1:<port>, standing for https://auth.openai.com */
  url: string;
  /** `${url}/deviceauth/callback`: the redirect_uri of device-flow codes */
  deviceRedirectUri: string;
  options: OpenAIFakeOptions;
  requests: OpenAIFakeRequest[];
  counts: {
    authorize: number;
    token: number;
    refresh: number;
    tokenExchange: number;
    revoke: number;
    usercode: number;
    poll: number;
  };
  issued: {
    codes: string[];
    idTokens: string[];
    accessTokens: string[];
    refreshTokens: string[];
    apiKeys: string[];
    userCodes: string[];
  };
  /** the §4 extra authorize params of each valid /authorize request (absent ones omitted) */
  authorizations: Array<Record<string, string>>;
  /** the user entered `userCode` at /codex/device and approved; false if it was never issued */
  approve(userCode: string): boolean;
  stop(): void;
}

interface CodeRecord {
  redirectUri: string;
  challenge: string;
  used: boolean;
}
interface TokenRecord {
  kind: "id" | "access" | "refresh";
  expiresAt: number;
  /** why a refresh token no longer works */
  dead?: RefreshErrorCode;
}
interface DeviceRecord {
  userCode: string;
  approved: boolean;
  code?: { authorization_code: string; code_challenge: string; code_verifier: string };
}

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const EXTRA_PARAMS = [
  "id_token_add_organizations",
  "codex_cli_simplified_flow",
  "originator",
  "allowed_workspace_id",
];

/** Decodes the payload of a JWT-shaped string (for tests). */
export function decodeJwtPayload(jwt: string): Record<string, unknown> {
  const part = jwt.split(".")[1] ?? "";
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;
}

export function startOpenAIFake(initial: OpenAIFakeOptions = {}): OpenAIFake {
  const options: OpenAIFakeOptions = { ...initial };
  const requests: OpenAIFakeRequest[] = [];
  const counts = { authorize: 0, token: 0, refresh: 0, tokenExchange: 0, revoke: 0, usercode: 0, poll: 0 };
  const issued = {
    codes: [] as string[],
    idTokens: [] as string[],
    accessTokens: [] as string[],
    refreshTokens: [] as string[],
    apiKeys: [] as string[],
    userCodes: [] as string[],
  };
  const authorizations: Array<Record<string, string>> = [];
  const codes = new Map<string, CodeRecord>();
  const tokens = new Map<string, TokenRecord>();
  const devices = new Map<string, DeviceRecord>();

  function authorize(query: Record<string, string>): Response {
    const bad = (text: string) => htmlPage(400, "Invalid authorization request", text);
    if (query.client_id !== OPENAI_CLIENT_ID) return bad(`unknown client_id: ${query.client_id ?? "(none)"}`);
    const redirectUri = query.redirect_uri ?? "";
    if (!(OPENAI_REDIRECT_URIS as readonly string[]).includes(redirectUri)) {
      return bad(`redirect_uri is not allow-listed: ${redirectUri || "(none)"}`);
    }
    if (query.response_type !== "code") return bad("response_type must be code");
    const scopes = (query.scope ?? "").split(" ").filter(Boolean);
    const unknown = scopes.filter((s) => !(OPENAI_SCOPES as readonly string[]).includes(s));
    if (!scopes.includes("openid") || unknown.length) return bad(`invalid scope: ${query.scope ?? "(none)"}`);
    if (query.code_challenge_method !== "S256") return bad("code_challenge_method must be S256");
    if (!isS256Challenge(query.code_challenge))
      return bad("code_challenge must be a base64url SHA-256 digest");
    if (!query.state) return bad("state is required");
    authorizations.push(
      Object.fromEntries(EXTRA_PARAMS.filter((k) => k in query).map((k) => [k, query[k]!])),
    );

    const to = new URL(redirectUri);
    const mode = options.authorize ?? "approve";
    if (mode === "approve") {
      const code = b64();
      codes.set(code, { redirectUri, challenge: query.code_challenge!, used: false });
      issued.codes.push(code);
      to.searchParams.set("code", code);
    } else {
      to.searchParams.set("error", "access_denied");
      to.searchParams.set(
        "error_description",
        mode === "deny"
          ? "The user denied the authorization request"
          : "missing_codex_entitlement: Codex is not enabled for your workspace",
      );
    }
    to.searchParams.set("state", query.state);
    return redirect(to);
  }

  // OpenAI's ID tokens are RS256-signed JWTs (auth.openai.com's JWKS); authctl reads their claims
  // without checking the signature (they come straight from the token endpoint over TLS), so
  // random bytes stand in for it. An `alg: none` header would be refused as it should be.
  function jwt(payload: Record<string, unknown>): string {
    return `${b64json({ alg: "RS256", typ: "JWT", kid: "fake-openai" })}.${b64json(payload)}.${b64(32)}`;
  }

  function mintTokens(withExpiresIn: boolean): Response {
    const ttl = options.expiresIn ?? 3600;
    const now = Math.floor(Date.now() / 1000);
    const auth = {
      chatgpt_account_id: options.accountId ?? "acct_123",
      chatgpt_plan_type: options.planType ?? "plus",
    };
    const common = {
      iss: http.url,
      sub: "user-fake",
      email: options.email ?? "user@example.com",
      iat: now,
      exp: now + ttl,
      [AUTH_CLAIM]: auth,
    };
    const idToken = jwt({ ...common, aud: OPENAI_CLIENT_ID });
    const accessToken = jwt({
      ...common,
      aud: ["https://api.openai.com/v1"],
      client_id: OPENAI_CLIENT_ID,
      jti: b64(12),
    });
    const refreshToken = `rt_${b64(32)}`;
    tokens.set(idToken, { kind: "id", expiresAt: (now + ttl) * 1000 });
    tokens.set(accessToken, { kind: "access", expiresAt: (now + ttl) * 1000 });
    tokens.set(refreshToken, { kind: "refresh", expiresAt: Infinity });
    issued.idTokens.push(idToken);
    issued.accessTokens.push(accessToken);
    issued.refreshTokens.push(refreshToken);
    const body = {
      id_token: idToken,
      access_token: accessToken,
      refresh_token: refreshToken,
      ...(withExpiresIn ? { expires_in: ttl } : {}),
    };
    return Response.json(body, { headers: NO_STORE });
  }

  function refreshError(code: RefreshErrorCode): Response {
    const message = {
      refresh_token_expired: "Your refresh token has expired. Please sign in again.",
      refresh_token_reused:
        "Your refresh token has already been used to generate a new access token. Please sign in again.",
      refresh_token_invalidated: "Your refresh token has been invalidated. Please sign in again.",
    }[code];
    if ((options.refreshErrorStyle ?? "nested_401") === "flat_400") return oauthError(400, code, message);
    return Response.json({ error: { code, message } }, { status: 401, headers: NO_STORE });
  }

  function token(contentType: string | null, body: Record<string, unknown>): Response {
    const type = mediaType(contentType);
    const grant = body.grant_type;
    // §4: the code exchange and the token exchange are form-encoded; refresh takes JSON or form.
    const formOnly = grant !== "refresh_token";
    if (formOnly ? type !== FORM : type !== FORM && type !== JSON_TYPE) {
      return oauthError(
        400,
        "invalid_request",
        formOnly ? "body must be form-urlencoded" : "body must be JSON or form-urlencoded",
      );
    }
    const wrongClient = requireClient(body.client_id, OPENAI_CLIENT_ID);
    if (wrongClient) return wrongClient;

    if (grant === "authorization_code") {
      const code = typeof body.code === "string" ? codes.get(body.code) : undefined;
      if (!code || code.used)
        return oauthError(400, "invalid_grant", "authorization code is invalid or was already used");
      if (body.redirect_uri !== code.redirectUri)
        return oauthError(400, "invalid_grant", "redirect_uri does not match");
      const verifier = typeof body.code_verifier === "string" ? body.code_verifier : "";
      if (!verifierMatches(verifier, code.challenge)) {
        return oauthError(400, "invalid_grant", "code_verifier does not match code_challenge");
      }
      code.used = true;
      return mintTokens(true);
    }

    if (grant === "refresh_token") {
      const record = typeof body.refresh_token === "string" ? tokens.get(body.refresh_token) : undefined;
      if (!record || record.kind !== "refresh") return refreshError("refresh_token_invalidated");
      if (record.dead) return refreshError(record.dead);
      if (options.refresh) return refreshError(options.refresh);
      record.dead = "refresh_token_reused"; // §4: single-use rotation
      return mintTokens(false);
    }

    if (grant === TOKEN_EXCHANGE_GRANT) {
      if (body.requested_token !== "openai-api-key")
        return oauthError(400, "invalid_request", "requested_token must be openai-api-key");
      if (body.subject_token_type !== ID_TOKEN_TYPE)
        return oauthError(400, "invalid_request", `subject_token_type must be ${ID_TOKEN_TYPE}`);
      const subject = typeof body.subject_token === "string" ? tokens.get(body.subject_token) : undefined;
      if (!subject || subject.kind !== "id")
        return oauthError(400, "invalid_grant", "subject_token is not a valid id_token");
      if ((options.apiKeyExchange ?? "ok") === "fail") {
        return oauthError(400, "invalid_grant", "this account cannot be exchanged for an API key");
      }
      const key = `sk-proj-${b64(48)}`;
      issued.apiKeys.push(key);
      return Response.json({ access_token: key }, { headers: NO_STORE });
    }

    return oauthError(400, "unsupported_grant_type", `unsupported grant_type: ${String(grant)}`);
  }

  function revoke(contentType: string | null, body: Record<string, unknown>): Response {
    if (!isJson(contentType)) return oauthError(400, "invalid_request", "body must be JSON");
    const record = typeof body.token === "string" ? tokens.get(body.token) : undefined;
    if (record) record.dead = "refresh_token_invalidated";
    return new Response(null, { status: 200 });
  }

  function usercode(contentType: string | null, body: Record<string, unknown>): Response {
    if (options.deviceEnabled === false)
      return Response.json({ error: { code: "not_found", message: "Not found" } }, { status: 404 });
    if (!isJson(contentType)) return oauthError(400, "invalid_request", "body must be JSON");
    const wrongClient = requireClient(body.client_id, OPENAI_CLIENT_ID);
    if (wrongClient) return wrongClient;
    const deviceAuthId = `deviceauth_${b64(16)}`;
    const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    const pick = () => Array.from(randomBytes(4), (b) => alphabet[b % alphabet.length]).join("");
    const userCode = `${pick()}-${pick()}`;
    devices.set(deviceAuthId, { userCode, approved: false });
    issued.userCodes.push(userCode);
    return Response.json({
      device_auth_id: deviceAuthId,
      [options.userCodeField ?? "user_code"]: userCode,
      interval: options.deviceInterval ?? "5",
    });
  }

  function poll(contentType: string | null, body: Record<string, unknown>): Response {
    if (!isJson(contentType)) return oauthError(400, "invalid_request", "body must be JSON");
    const device = typeof body.device_auth_id === "string" ? devices.get(body.device_auth_id) : undefined;
    if (!device || body.user_code !== device.userCode) {
      return oauthError(400, "invalid_request", "unknown device_auth_id or user_code");
    }
    if (!device.approved) {
      return Response.json(
        {
          error: {
            code: "deviceauth_authorization_pending",
            message: "The user has not authorized the device yet",
          },
        },
        { status: options.pendingStatus ?? 403 },
      );
    }
    if (!device.code) {
      // The server generates the PKCE pair and hands both halves to the client.
      const verifier = b64(32);
      const challenge = s256(verifier);
      const authorizationCode = b64();
      codes.set(authorizationCode, { redirectUri: deviceRedirectUri(), challenge, used: false });
      issued.codes.push(authorizationCode);
      device.code = {
        authorization_code: authorizationCode,
        code_challenge: challenge,
        code_verifier: verifier,
      };
    }
    return Response.json(device.code);
  }

  const http = serveFake({
    body: bodyReader({ form: isForm, json: isJson }),
    record: { into: requests, fields: ["method", "path", "contentType", "body", "query", "headers", "at"] },
    routes: {
      "GET /oauth/authorize": ({ query }) => {
        counts.authorize += 1;
        return authorize(query);
      },
      "POST /oauth/token": ({ contentType, body }) => {
        if (body.grant_type === "refresh_token") counts.refresh += 1;
        else if (body.grant_type === TOKEN_EXCHANGE_GRANT) counts.tokenExchange += 1;
        else counts.token += 1;
        return token(contentType, body);
      },
      "POST /oauth/revoke": ({ contentType, body }) => {
        counts.revoke += 1;
        return revoke(contentType, body);
      },
      "POST /api/accounts/deviceauth/usercode": ({ contentType, body }) => {
        counts.usercode += 1;
        return usercode(contentType, body);
      },
      "POST /api/accounts/deviceauth/token": ({ contentType, body }) => {
        counts.poll += 1;
        return poll(contentType, body);
      },
      "GET /codex/device": () =>
        htmlPage(200, "Enter your one-time code", "Enter the code shown in your terminal."),
      "GET /deviceauth/callback": () => htmlPage(200, "Signed in", "You may close this page."),
    },
    notFound: () => new Response("not found", { status: 404 }),
  });
  const deviceRedirectUri = () => `${http.url}/deviceauth/callback`;

  return {
    url: http.url,
    deviceRedirectUri: deviceRedirectUri(),
    options,
    requests,
    counts,
    issued,
    authorizations,
    approve(userCode: string): boolean {
      for (const device of devices.values()) {
        if (device.userCode === userCode) {
          device.approved = true;
          return true;
        }
      }
      return false;
    },
    stop: http.stop,
  };
}
