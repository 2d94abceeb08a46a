/**
 * Anthropic's Claude Pro/Max OAuth (the Claude Code client) and the Console → API key path on
 * 127.0.0.1, written from providers.md §3 (its sources: badlogic/pi-mono
 * packages/ai/src/utils/oauth/anthropic.ts and anomalyco/opencode's anthropic plugin), not from
 * authctl's code. One server stands for every
 * Anthropic host; the path tells them apart:
 *
 *   GET  /oauth/authorize        claude.ai (also console.anthropic.com, platform.claude.com,
 *                                claude.ai/cai, claude.com/cai; here only the /oauth/authorize path)
 *        ?code=true&client_id&response_type=code&redirect_uri&scope&code_challenge
 *        &code_challenge_method=S256&state   (a login page in reality; here a 302 at once)
 *   GET  /oauth/code/callback    platform.claude.com (legacy console.anthropic.com): the paste
 *                                page, showing `code#state` as text
 *   POST /v1/oauth/token         platform.claude.com (legacy console.anthropic.com), JSON only
 *        {grant_type:"authorization_code", client_id, code, state, redirect_uri, code_verifier}
 *        {grant_type:"refresh_token", client_id, refresh_token}
 *        → 200 {access_token:"sk-ant-oat01-…", refresh_token:"sk-ant-ort01-…", expires_in, scope,
 *               token_type:"Bearer"}
 *   POST /api/oauth/claude_cli/create_api_key   api.anthropic.com, Bearer <oat> → {raw_key}
 *   GET  /api/oauth/profile                     api.anthropic.com, Bearer <oat>
 *                                               → {account:{email_address}}
 *   GET  /v1/models                             api.anthropic.com: `x-api-key` of a key from
 *        create_api_key → 200 list; `Authorization: Bearer sk-ant-oat…` → 400 "only authorized
 *        for use with Claude Code" (the policy of §3, which is why authctl must not do this)
 *
 *   const fake = startAnthropicFake({ authorize: "deny" });
 *   fake.options.authorize = "approve";                 // behaviour may change between steps
 *
 * Redirect URIs accepted at /authorize: `http://localhost:<any port>/callback` (pi uses 53692 and
 * falls back to an ephemeral port; whether Anthropic's real allow-list takes any port is
 * UNCERTAIN, §1 "Port busy"), or the paste page `${url}/oauth/code/callback`.
 *
 * Choices where §3 is silent (marked "undocumented" below):
 * - a bad /authorize request gets a 400 HTML page, never a redirect;
 * - token endpoint errors are OAuth-shaped `{error, error_description}`: 400 invalid_request for
 *   a non-JSON body, 401 invalid_client for a wrong client_id, 400 invalid_grant for a bad code,
 *   state, redirect_uri or verifier; a rotated refresh token gets 400 invalid_grant
 *   "Refresh token not found or invalid"; a code whose exchange fails stays usable;
 * - API errors (the three texts of §3) use Anthropic's API shape
 *   `{type:"error", error:{type, message}}`: 401 authentication_error for an expired or unknown
 *   token, 400 invalid_request_error for the Claude-Code-only policy; create_api_key with a token
 *   lacking `org:create_api_key` gets 403 permission_error;
 * - refreshing does not kill the old access token (it lives until it expires);
 * - /authorize accepts only the scopes §3 lists (current and legacy sets) and needs at least one.
 *
 * `requests` holds every request, in order; `counts` counts requests per endpoint (token/refresh
 * by grant_type) whatever the answer; `issued` lists what was handed out.
 */
import {
  b64url as b64,
  bearerOf,
  bodyReader,
  esc,
  FORM,
  htmlDocument,
  htmlPage,
  isJson,
  isS256Challenge,
  oauthError,
  parseUrl,
  redirect,
  serveFake,
  verifierMatches,
  type RecordedRequest,
} from "./_kit.ts";

export const ANTHROPIC_CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e";
/** §3 "Scopes": the current set (the legacy set is its first three). */
export const ANTHROPIC_SCOPES = [
  "org:create_api_key",
  "user:profile",
  "user:inference",
  "user:sessions:claude_code",
  "user:mcp_servers",
  "user:file_upload",
] as const;
export const CLAUDE_CODE_ONLY_MESSAGE =
  "This credential is only authorized for use with Claude Code and cannot be used for other API requests.";
export const EXPIRED_MESSAGE = "OAuth access token has expired. Re-authenticate to continue.";
export const INVALID_CREDENTIALS_MESSAGE = "Invalid authentication credentials";
export const FAKE_EMAIL = "user@example.com";

export interface AnthropicFakeOptions {
  /** what GET /oauth/authorize does once the request is valid (default "approve") */
  authorize?: "approve" | "deny";
  /** expires_in of access tokens, seconds (default 28800, §3 "≈ 8 h"); 0 makes them born expired */
  expiresIn?: number;
  /**
   * Forces every Bearer/x-api-key endpoint (create_api_key, profile, models) to answer with one of
   * the documented errors of §3, whatever the credential: "expired" → 401 EXPIRED_MESSAGE,
   * "invalid" → 401 INVALID_CREDENTIALS_MESSAGE, "claude_code_only" → 400 CLAUDE_CODE_ONLY_MESSAGE.
   */
  apiError?: "expired" | "invalid" | "claude_code_only";
}

export interface AnthropicFakeRequest
  extends RecordedRequest<Record<string, unknown>, "contentType" | "query" | "headers"> {
  /** the JSON object body as sent; the parsed form for a form body; {} otherwise */
  body: Record<string, unknown>;
}

export interface AnthropicFake {
  /** http://127.0.0.1:<port>, standing for every Anthropic host */
  url: string;
  /** `${url}/oauth/code/callback`: the paste-mode redirect_uri */
  pasteRedirectUri: string;
  /** mutable: tests change behaviour between steps */
  options: AnthropicFakeOptions;
  requests: AnthropicFakeRequest[];
  counts: {
    authorize: number;
    codePage: number;
    token: number;
    refresh: number;
    createApiKey: number;
    profile: number;
    models: number;
  };
  issued: { codes: string[]; accessTokens: string[]; refreshTokens: string[]; apiKeys: string[] };
  stop(): void;
}

interface CodeRecord {
  redirectUri: string;
  challenge: string;
  state: string;
  scope: string;
  used: boolean;
}
interface TokenRecord {
  kind: "access" | "refresh";
  scope: string;
  expiresAt: number;
  dead: boolean;
}

function apiError(status: number, type: string, message: string): Response {
  return Response.json({ type: "error", error: { type, message } }, { status });
}

/** §3 "Redirect (loopback)": http://localhost:PORT/callback. Any port: UNCERTAIN upstream. */
function isLoopbackCallback(value: string): boolean {
  const url = parseUrl(value);
  return (
    url?.protocol === "http:" &&
    url.hostname === "localhost" &&
    url.pathname === "/callback" &&
    !url.search &&
    !url.hash
  );
}

export function startAnthropicFake(initial: AnthropicFakeOptions = {}): AnthropicFake {
  const options: AnthropicFakeOptions = { ...initial };
  const requests: AnthropicFakeRequest[] = [];
  const counts = { authorize: 0, codePage: 0, token: 0, refresh: 0, createApiKey: 0, profile: 0, models: 0 };
  const issued = {
    codes: [] as string[],
    accessTokens: [] as string[],
    refreshTokens: [] as string[],
    apiKeys: [] as string[],
  };
  const codes = new Map<string, CodeRecord>();
  const tokens = new Map<string, TokenRecord>();
  const apiKeys = new Set<string>();

  function authorize(query: Record<string, string>): Response {
    const bad = (text: string) => htmlPage(400, "Invalid authorization request", text);
    if (query.client_id !== ANTHROPIC_CLIENT_ID)
      return bad(`unknown client_id: ${query.client_id ?? "(none)"}`);
    const redirectUri = query.redirect_uri ?? "";
    if (redirectUri !== pasteRedirectUri() && !isLoopbackCallback(redirectUri)) {
      return bad("redirect_uri must be http://localhost:<port>/callback or the code page");
    }
    if (query.code !== "true") return bad("code=true is required");
    if (query.response_type !== "code") return bad("response_type must be code");
    const scopes = (query.scope ?? "").split(" ").filter(Boolean);
    if (scopes.length === 0) return bad("scope is required");
    const unknown = scopes.filter((s) => !(ANTHROPIC_SCOPES as readonly string[]).includes(s));
    if (unknown.length) return bad(`unknown scope: ${unknown.join(" ")}`);
    if (query.code_challenge_method !== "S256") return bad("code_challenge_method must be S256");
    if (!isS256Challenge(query.code_challenge))
      return bad("code_challenge must be a base64url SHA-256 digest");
    if (!query.state) return bad("state is required");

    const to = new URL(redirectUri);
    if ((options.authorize ?? "approve") === "deny") {
      to.searchParams.set("error", "access_denied");
      to.searchParams.set("error_description", "The user denied the authorization request");
    } else {
      const code = b64();
      codes.set(code, {
        redirectUri,
        challenge: query.code_challenge!,
        state: query.state,
        scope: scopes.join(" "),
        used: false,
      });
      issued.codes.push(code);
      to.searchParams.set("code", code);
    }
    to.searchParams.set("state", query.state);
    return redirect(to);
  }

  /** §3 "Redirect (paste)": the page shows `code#state` for the user to copy. */
  function codePage(query: Record<string, string>): Response {
    if (query.error) {
      return htmlDocument(
        200,
        "Authorization failed",
        `<p id="error">${esc(query.error)}: ${esc(query.error_description ?? "")}</p>`,
      );
    }
    if (!query.code || !query.state) return htmlPage(400, "Invalid request", "code and state are required");
    return htmlDocument(
      200,
      "Authentication Code",
      `<p>Paste this into Claude Code:</p>\n<code id="code">${esc(`${query.code}#${query.state}`)}</code>`,
    );
  }

  function issueTokens(scope: string): Response {
    const ttl = options.expiresIn ?? 28800;
    const access = `sk-ant-oat01-${b64(48)}`;
    const refresh = `sk-ant-ort01-${b64(48)}`;
    tokens.set(access, { kind: "access", scope, expiresAt: Date.now() + ttl * 1000, dead: false });
    tokens.set(refresh, { kind: "refresh", scope, expiresAt: Infinity, dead: false });
    issued.accessTokens.push(access);
    issued.refreshTokens.push(refresh);
    return Response.json(
      { access_token: access, refresh_token: refresh, expires_in: ttl, scope, token_type: "Bearer" },
      { headers: { "cache-control": "no-store" } },
    );
  }

  function token(contentType: string | null, body: Record<string, unknown>): Response {
    // §3 "Token request": JSON, not form.
    if (!isJson(contentType))
      return oauthError(400, "invalid_request", "Content-Type must be application/json");
    if (body.client_id !== ANTHROPIC_CLIENT_ID) return oauthError(401, "invalid_client", "Invalid client_id");
    if (body.grant_type === "authorization_code") {
      const code = typeof body.code === "string" ? codes.get(body.code) : undefined;
      if (!code || code.used)
        return oauthError(400, "invalid_grant", "Invalid or expired authorization code");
      if (body.state !== code.state) return oauthError(400, "invalid_grant", "Invalid state");
      if (body.redirect_uri !== code.redirectUri)
        return oauthError(400, "invalid_grant", "Redirect URI mismatch");
      const verifier = typeof body.code_verifier === "string" ? body.code_verifier : "";
      if (!verifierMatches(verifier, code.challenge)) {
        return oauthError(400, "invalid_grant", "Invalid code_verifier");
      }
      code.used = true;
      return issueTokens(code.scope);
    }
    if (body.grant_type === "refresh_token") {
      const record = typeof body.refresh_token === "string" ? tokens.get(body.refresh_token) : undefined;
      if (!record || record.kind !== "refresh" || record.dead) {
        return oauthError(400, "invalid_grant", "Refresh token not found or invalid");
      }
      record.dead = true; // §3: rotated, single-use
      return issueTokens(record.scope);
    }
    return oauthError(400, "unsupported_grant_type", `unsupported grant_type: ${String(body.grant_type)}`);
  }

  const forced = (): Response | undefined => {
    switch (options.apiError) {
      case "expired":
        return apiError(401, "authentication_error", EXPIRED_MESSAGE);
      case "invalid":
        return apiError(401, "authentication_error", INVALID_CREDENTIALS_MESSAGE);
      case "claude_code_only":
        return apiError(400, "invalid_request_error", CLAUDE_CODE_ONLY_MESSAGE);
      case undefined:
        return undefined;
    }
  };

  /** A live access token from `Authorization: Bearer`, or the documented 401. */
  function bearer(req: Request): TokenRecord | Response {
    const value = bearerOf(req);
    const record = value === undefined ? undefined : tokens.get(value);
    if (!record || record.kind !== "access" || record.dead)
      return apiError(401, "authentication_error", INVALID_CREDENTIALS_MESSAGE);
    if (Date.now() >= record.expiresAt) return apiError(401, "authentication_error", EXPIRED_MESSAGE);
    return record;
  }

  function createApiKey(req: Request): Response {
    const record = forced() ?? bearer(req);
    if (record instanceof Response) return record;
    if (!record.scope.split(" ").includes("org:create_api_key")) {
      return apiError(
        403,
        "permission_error",
        "OAuth token does not meet scope requirement org:create_api_key",
      );
    }
    const key = `sk-ant-api03-${b64(64)}`;
    apiKeys.add(key);
    issued.apiKeys.push(key);
    return Response.json({ raw_key: key });
  }

  function profile(req: Request): Response {
    const record = forced() ?? bearer(req);
    if (record instanceof Response) return record;
    return Response.json({ account: { email_address: FAKE_EMAIL } });
  }

  function models(req: Request): Response {
    const early = forced();
    if (early) return early;
    const apiKey = req.headers.get("x-api-key");
    if (apiKey !== null) {
      if (!apiKeys.has(apiKey)) return apiError(401, "authentication_error", INVALID_CREDENTIALS_MESSAGE);
      const model = {
        type: "model",
        id: "claude-fake-1",
        display_name: "Claude Fake 1",
        created_at: "2026-01-01T00:00:00Z",
      };
      return Response.json({ data: [model], has_more: false, first_id: model.id, last_id: model.id });
    }
    const record = bearer(req);
    if (record instanceof Response) return record;
    return apiError(400, "invalid_request_error", CLAUDE_CODE_ONLY_MESSAGE);
  }

  const http = serveFake({
    // JSON is what the token endpoint takes; a form body is only recorded
    body: bodyReader({
      json: isJson,
      form: (contentType) => contentType?.toLowerCase().startsWith(FORM) ?? false,
    }),
    record: { into: requests, fields: ["method", "path", "contentType", "body", "query", "headers", "at"] },
    routes: {
      "GET /oauth/authorize": ({ query }) => {
        counts.authorize += 1;
        return authorize(query);
      },
      "GET /oauth/code/callback": ({ query }) => {
        counts.codePage += 1;
        return codePage(query);
      },
      "POST /v1/oauth/token": ({ contentType, body }) => {
        if (body.grant_type === "refresh_token") counts.refresh += 1;
        else counts.token += 1;
        return token(contentType, body);
      },
      "POST /api/oauth/claude_cli/create_api_key": ({ req }) => {
        counts.createApiKey += 1;
        return createApiKey(req);
      },
      "GET /api/oauth/profile": ({ req }) => {
        counts.profile += 1;
        return profile(req);
      },
      "GET /v1/models": ({ req }) => {
        counts.models += 1;
        return models(req);
      },
    },
    notFound: ({ method, path }) => apiError(404, "not_found_error", `Not found: ${method} ${path}`),
  });
  const pasteRedirectUri = () => `${http.url}/oauth/code/callback`;

  return {
    url: http.url,
    pasteRedirectUri: pasteRedirectUri(),
    options,
    requests,
    counts,
    issued,
    stop: http.stop,
  };
}
