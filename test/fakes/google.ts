/**
 * Google's installed-app OAuth as Gemini CLI uses it, plus Code Assist's `loadCodeAssist`, on
 * 127.0.0.1, written from providers.md §7 (its source: google-gemini/gemini-cli
 * packages/core/src/code_assist/{oauth2.ts,setup.ts,server.ts}), not from authctl's code. One server plays three
 * hosts, told apart by path: accounts.google.com (`/o/oauth2/v2/auth`), oauth2.googleapis.com
 * (`/token`) and cloudcode-pa.googleapis.com (`/v1internal:loadCodeAssist`).
 *
 *   const fake = startGoogleFake();
 *   GET  ${fake.url}/o/oauth2/v2/auth?client_id=…&redirect_uri=http://127.0.0.1:<port>/oauth2callback&…
 *     → 302 to redirect_uri?code=…&state=…   (the user consented at once)
 *   POST ${fake.url}/token   (form)          → {access_token, expires_in, refresh_token?, scope, token_type}
 *   POST ${fake.url}/v1internal:loadCodeAssist  (Bearer, JSON) → {cloudaicompanionProject, currentTier}
 *
 * GET /o/oauth2/v2/auth checks client_id, redirect_uri (http, a loopback host: 127.0.0.1, [::1]
 * or localhost, any port, path /oauth2callback), response_type=code, the three §7 scopes, and a
 * PKCE challenge if one is sent (optional: the upstream web flow sends none; method S256 or
 * plain, plain when omitted, RFC 7636 §4.3). A bad request gets a 400 HTML page, never a
 * redirect (RFC 6749 §4.1.2.1). `state` is echoed when sent. `options.authorize = "deny"`
 * redirects with error=access_denied instead.
 *
 * POST /token (form only, else 400 invalid_request) authenticates the client first: client_id
 * and client_secret, in the body or as HTTP Basic; anything else → 401 invalid_client. Then:
 * - authorization_code: code, redirect_uri (must equal the one sent to /auth, else 400
 *   redirect_uri_mismatch), code_verifier (required iff a challenge was sent; a mismatch →
 *   400 invalid_grant). Codes are single-use (reuse → 400 invalid_grant).
 * - refresh_token: the answer omits refresh_token, which stays valid (no rotation). An unknown
 *   or revoked one → 400 invalid_grant "Token has been expired or revoked.".
 *
 * Refresh tokens, my reading of §7's "only with offline+consent": Google hands one out when
 * access_type=offline AND the user is shown the consent screen, which happens with
 * prompt=consent or on the first authorization of this client by this user. So: offline +
 * prompt=consent always gets one; offline without prompt=consent gets one only while
 * `options.previouslyConsented` is false and no refresh token was issued yet by this fake;
 * access_type=online (or absent) never gets one.
 *
 * POST /v1internal:loadCodeAssist needs `Authorization: Bearer <live access token>` (else 401
 * UNAUTHENTICATED, Google's JSON error shape) and a JSON body with a `metadata` object (else 400
 * INVALID_ARGUMENT). It answers {cloudaicompanionProject: options.project ("proj-123"),
 * currentTier: {id: options.tier ("standard-tier")}}, or with `options.ineligible` a 403 whose
 * shape is my choice (§7 only names `IneligibleTierError` and quotes the sunset message):
 *   {error: {code: 403, status: "PERMISSION_DENIED", message: GOOGLE_INELIGIBLE_MESSAGE,
 *            details: [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
 *                       reason: "IneligibleTierError", domain: "cloudcode-pa.googleapis.com"}]}}
 * With `options.onboarded: false` the account has no Code Assist tier yet, as gemini-cli's setup.ts
 * (google-gemini/gemini-cli packages/core/src/code_assist/setup.ts) expects for a new account:
 * loadCodeAssist answers {allowedTiers: [{id: "free-tier", isDefault: true, …}]} with no currentTier
 * and no project; POST /v1internal:onboardUser (Bearer, JSON {tierId, metadata[, cloudaicompanionProject]})
 * answers a long-running operation {name: "operations/…", done} (done at once unless
 * `options.onboardPending` is set), and GET /v1internal/operations/<id> answers it done with
 * response.cloudaicompanionProject.id = options.project. The free tier uses a managed project:
 * a cloudaicompanionProject in a free-tier onboardUser is refused with 400 FAILED_PRECONDITION
 * (setup.ts: "Setting a project in the `onboardUser` request causes a `Precondition Failed` error").
 * After onboarding, loadCodeAssist answers as for an onboarded account.
 */
import {
  b64url,
  bareHtmlPage,
  basicCredentials,
  bearerOf,
  bodyReader,
  formDecode,
  isForm,
  isJson,
  isVerifier,
  LOOPBACK_HOSTS,
  oauthError,
  parseUrl,
  redirect,
  serveFake,
  verifierMatches,
  type RecordedRequest,
} from "./_kit.ts";

export const GOOGLE_CLIENT_ID = "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com";
export const GOOGLE_CLIENT_SECRET = "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";
export const GOOGLE_SCOPES = [
  "https://www.googleapis.com/auth/cloud-platform",
  "https://www.googleapis.com/auth/userinfo.email",
  "https://www.googleapis.com/auth/userinfo.profile",
];
/** The sunset message §7 quotes (its text, ellipsis included). */
export const GOOGLE_INELIGIBLE_MESSAGE =
  "This client is no longer supported for Gemini Code Assist for individuals… migrate to the Antigravity suite";

export interface GoogleFakeOptions {
  clientId?: string;
  clientSecret?: string;
  /** what /o/oauth2/v2/auth does with a valid request: "redirect" (default) or "deny" */
  authorize?: "redirect" | "deny";
  /** default false: the user has never consented to this client (see the header comment) */
  previouslyConsented?: boolean;
  /** seconds, default 3599 (what Google sends) */
  accessTokenTtl?: number;
  /** default "proj-123" */
  project?: string;
  /** default "standard-tier" */
  tier?: string;
  /** default false; true: loadCodeAssist answers the 403 above */
  ineligible?: boolean;
  /** default true; false: a new account, onboarded through onboardUser (see the header) */
  onboarded?: boolean;
  /** default false; true: onboardUser's operation is not done at first (poll the operation) */
  onboardPending?: boolean;
}

export interface GoogleFakeRequest
  extends RecordedRequest<Record<string, string>, "contentType" | "query" | "headers"> {
  /** form body, or a JSON object body (values as strings, objects JSON-encoded); {} otherwise */
  body: Record<string, string>;
}

export interface GoogleFake {
  url: string;
  options: GoogleFakeOptions;
  requests: GoogleFakeRequest[];
  counts: {
    authorize: number;
    token: number;
    refresh: number;
    loadCodeAssist: number;
    onboardUser: number;
    operation: number;
  };
  issued: { accessTokens: string[]; refreshTokens: string[] };
  /** revoke a refresh token (the user removed the app's access): its refreshes get invalid_grant */
  revoke(refreshToken: string): void;
  stop(): void;
}

interface CodeRecord {
  redirectUri: string;
  challenge: string | undefined;
  method: string;
  scope: string;
  refresh: boolean;
  used: boolean;
}

/** Google's API error shape (google.rpc.Status in JSON). */
function apiError(code: number, status: string, message: string, details?: unknown[]): Response {
  return Response.json(
    { error: { code, message, status, ...(details ? { details } : {}) } },
    { status: code },
  );
}

const htmlError = (text: string) => bareHtmlPage("Error 400", text, 400);

function isLoopbackCallback(value: string | undefined): boolean {
  const url = parseUrl(value);
  return (
    url?.protocol === "http:" &&
    LOOPBACK_HOSTS.includes(url.hostname) &&
    url.pathname === "/oauth2callback" &&
    !url.hash
  );
}

/** client_id and client_secret from the body, or from HTTP Basic (form-encoded, RFC 6749 §2.3.1). */
function clientOf(req: Request, body: Record<string, string>): { id?: string; secret?: string } {
  const basic = basicCredentials(req);
  if (basic) return { id: formDecode(basic[0]), secret: formDecode(basic[1]) };
  return { id: body.client_id, secret: body.client_secret };
}

const random = (prefix: string) => `${prefix}${b64url(24)}`;

export function startGoogleFake(initial: GoogleFakeOptions = {}): GoogleFake {
  const options: GoogleFakeOptions = { ...initial };
  const requests: GoogleFakeRequest[] = [];
  const counts = { authorize: 0, token: 0, refresh: 0, loadCodeAssist: 0, onboardUser: 0, operation: 0 };
  const issued = { accessTokens: [] as string[], refreshTokens: [] as string[] };
  const codes = new Map<string, CodeRecord>();
  /** refresh token → {live, scope} */
  const refreshTokens = new Map<string, { live: boolean; scope: string }>();
  /** access token → expiry (ms) */
  const accessTokens = new Map<string, number>();

  const clientId = () => options.clientId ?? GOOGLE_CLIENT_ID;

  function issue(scope: string, withRefresh: boolean): Response {
    const ttl = options.accessTokenTtl ?? 3599;
    const accessToken = random("ya29.fake-");
    accessTokens.set(accessToken, Date.now() + ttl * 1000);
    issued.accessTokens.push(accessToken);
    let refreshToken: string | undefined;
    if (withRefresh) {
      refreshToken = random("1//fake-");
      refreshTokens.set(refreshToken, { live: true, scope });
      issued.refreshTokens.push(refreshToken);
    }
    return Response.json(
      {
        access_token: accessToken,
        expires_in: ttl,
        ...(refreshToken === undefined ? {} : { refresh_token: refreshToken }),
        scope,
        token_type: "Bearer",
      },
      { headers: { "cache-control": "no-store" } },
    );
  }

  function authorize(query: Record<string, string>): Response {
    if (query.client_id !== clientId()) return htmlError(`invalid_client: The OAuth client was not found.`);
    if (!isLoopbackCallback(query.redirect_uri)) {
      return htmlError("redirect_uri_mismatch: expected http://127.0.0.1:<port>/oauth2callback");
    }
    if (query.response_type !== "code")
      return htmlError("unsupported_response_type: response_type must be code");
    const scopes = (query.scope ?? "").split(/\s+/).filter(Boolean);
    const missing = GOOGLE_SCOPES.filter((s) => !scopes.includes(s));
    if (missing.length) return htmlError(`invalid_scope: missing ${missing.join(" ")}`);
    const method = query.code_challenge_method ?? "plain";
    if (query.code_challenge !== undefined) {
      if (method !== "S256" && method !== "plain")
        return htmlError("invalid_request: unsupported code_challenge_method");
      if (!isVerifier(query.code_challenge)) return htmlError("invalid_request: bad code_challenge");
    } else if (query.code_challenge_method !== undefined) {
      return htmlError("invalid_request: code_challenge_method without code_challenge");
    }

    const to = new URL(query.redirect_uri!);
    if ((options.authorize ?? "redirect") === "deny") {
      to.searchParams.set("error", "access_denied");
    } else {
      const offline = query.access_type === "offline";
      const consentShown =
        (query.prompt ?? "").split(/\s+/).includes("consent") ||
        (!options.previouslyConsented && issued.refreshTokens.length === 0);
      const code = random("4/fake-");
      codes.set(code, {
        redirectUri: query.redirect_uri!,
        challenge: query.code_challenge,
        method,
        scope: scopes.join(" "),
        refresh: offline && consentShown,
        used: false,
      });
      to.searchParams.set("code", code);
      to.searchParams.set("scope", scopes.join(" "));
    }
    if (query.state !== undefined) to.searchParams.set("state", query.state);
    return redirect(to);
  }

  function token(body: Record<string, string>): Response {
    if (body.grant_type === "authorization_code") {
      const code = body.code === undefined ? undefined : codes.get(body.code);
      if (!code || code.used) return oauthError(400, "invalid_grant", "Malformed auth code.");
      if (body.redirect_uri !== code.redirectUri)
        return oauthError(400, "redirect_uri_mismatch", "Bad Request");
      if (code.challenge !== undefined) {
        if (!verifierMatches(body.code_verifier ?? "", code.challenge, code.method)) {
          return oauthError(400, "invalid_grant", "Invalid code verifier.");
        }
      }
      code.used = true;
      return issue(code.scope, code.refresh);
    }
    if (body.grant_type === "refresh_token") {
      const record = body.refresh_token === undefined ? undefined : refreshTokens.get(body.refresh_token);
      if (!record?.live) return oauthError(400, "invalid_grant", "Token has been expired or revoked.");
      return issue(record.scope, false);
    }
    return oauthError(400, "unsupported_grant_type", `Invalid grant_type: ${body.grant_type ?? ""}`);
  }

  const unauthenticated = (req: Request) => {
    const bearer = bearerOf(req);
    const expiry = bearer === undefined ? undefined : accessTokens.get(bearer);
    return expiry === undefined || Date.now() >= expiry
      ? apiError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
      : undefined;
  };
  const onboardedProject = () => ({
    cloudaicompanionProject: { id: options.project ?? "proj-123", name: options.project ?? "proj-123" },
  });

  function onboardUser(req: Request, contentType: string | null, body: Record<string, string>): Response {
    const denied = unauthenticated(req);
    if (denied) return denied;
    if (!isJson(contentType) || !body.tierId || !body.metadata)
      return apiError(400, "INVALID_ARGUMENT", "Invalid JSON payload: tierId and metadata are required.");
    if (body.tierId === "free-tier" && body.cloudaicompanionProject) {
      return apiError(400, "FAILED_PRECONDITION", "Precondition check failed.");
    }
    options.onboarded = true;
    const name = `operations/onboard-${b64url(6)}`;
    if (options.onboardPending) return Response.json({ name, done: false });
    return Response.json({ name, done: true, response: onboardedProject() });
  }

  function operation(req: Request, name: string): Response {
    const denied = unauthenticated(req);
    if (denied) return denied;
    return Response.json({ name, done: true, response: onboardedProject() });
  }

  function loadCodeAssist(req: Request, contentType: string | null, body: Record<string, string>): Response {
    const denied = unauthenticated(req);
    if (denied) return denied;
    let metadata: unknown;
    try {
      metadata = body.metadata === undefined ? undefined : JSON.parse(body.metadata);
    } catch {
      metadata = undefined;
    }
    if (!isJson(contentType) || !metadata || typeof metadata !== "object") {
      return apiError(400, "INVALID_ARGUMENT", "Invalid JSON payload: a metadata object is required.");
    }
    if (options.ineligible) {
      return apiError(403, "PERMISSION_DENIED", GOOGLE_INELIGIBLE_MESSAGE, [
        {
          "@type": "type.googleapis.com/google.rpc.ErrorInfo",
          reason: "IneligibleTierError",
          domain: "cloudcode-pa.googleapis.com",
        },
      ]);
    }
    if (options.onboarded === false) {
      return Response.json({
        allowedTiers: [
          {
            id: "free-tier",
            name: "Gemini Code Assist for individuals",
            isDefault: true,
            userDefinedCloudaicompanionProject: false,
          },
          { id: "standard-tier", name: "Gemini Code Assist", userDefinedCloudaicompanionProject: true },
        ],
      });
    }
    return Response.json({
      cloudaicompanionProject: options.project ?? "proj-123",
      currentTier: { id: options.tier ?? "standard-tier" },
    });
  }

  const http = serveFake({
    body: bodyReader({ form: isForm, json: isJson, strings: true }),
    record: { into: requests, fields: ["method", "path", "contentType", "body", "query", "headers", "at"] },
    routes: {
      "GET /o/oauth2/v2/auth": ({ query }) => {
        counts.authorize += 1;
        return authorize(query);
      },
      "POST /token": ({ req, contentType, body }) => {
        if (body.grant_type === "refresh_token") counts.refresh += 1;
        else counts.token += 1;
        if (!isForm(contentType)) return oauthError(400, "invalid_request", "Invalid content type.");
        const client = clientOf(req, body);
        if (client.id !== clientId() || client.secret !== (options.clientSecret ?? GOOGLE_CLIENT_SECRET)) {
          return oauthError(401, "invalid_client", "Unauthorized");
        }
        return token(body);
      },
      "POST /v1internal:loadCodeAssist": ({ req, contentType, body }) => {
        counts.loadCodeAssist += 1;
        return loadCodeAssist(req, contentType, body);
      },
      "POST /v1internal:onboardUser": ({ req, contentType, body }) => {
        counts.onboardUser += 1;
        return onboardUser(req, contentType, body);
      },
    },
    notFound: ({ req }: { req: Request }) => {
      const path = new URL(req.url).pathname;
      if (req.method === "GET" && path.startsWith("/v1internal/operations/")) {
        counts.operation += 1;
        return operation(req, path.slice("/v1internal/".length));
      }
      return apiError(404, "NOT_FOUND", "Not Found");
    },
  });

  return {
    url: http.url,
    options,
    requests,
    counts,
    issued,
    revoke(refreshToken) {
      const record = refreshTokens.get(refreshToken);
      if (!record) throw new Error(`google fake: unknown refresh token ${refreshToken}`);
      record.live = false;
    },
    stop: http.stop,
  };
}
