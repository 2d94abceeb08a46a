/**
 * A small OAuth 2.0 authorization server on 127.0.0.1 for the error cases that the real one
 * (oidc-server.ts, oidc-provider) will not produce on demand: token endpoints that answer 500,
 * an HTML page, truncated JSON or nothing at all; device flows that never stop saying slow_down;
 * authorize redirects with a denial or the wrong state. Apart from the behaviour chosen in
 * `options`, it checks requests as strictly as a real server: one public client, PKCE S256
 * (RFC 7636), loopback redirect URIs (RFC 8252 §7.3), single-use codes, form-encoded bodies.
 *
 *   const fake = startOAuthFake({ token: "html_500" });
 *   fake.options.token = "ok";                         // behaviour may change between steps
 *
 * Endpoints (also in `${url}/.well-known/openid-configuration` and `…/oauth-authorization-server`):
 *   GET /authorize, POST /token, POST /device/code, GET /device (a page), POST /revoke,
 *   GET /userinfo
 *
 * `requests` holds every request, in order, answered or not; `at` is Date.now() on arrival.
 * `counts` counts requests per endpoint (token/refresh/poll by the grant_type in the body),
 * whatever the answer was.
 */
import {
  basicCredentials,
  bearerOf,
  bodyReader,
  formDecode,
  hex,
  htmlPage,
  isForm,
  isS256Challenge,
  LOOPBACK_HOSTS,
  mentionsJson,
  NO_STORE,
  oauthError as kitOAuthError,
  parseUrl,
  redirect,
  requireForm,
  serveFake,
  verifierMatches,
  type Incoming,
  type RecordedRequest,
} from "./_kit.ts";

export type TokenBehaviour =
  | "ok" // 200 JSON {access_token, token_type: "Bearer", expires_in, refresh_token, scope}
  | "invalid_grant" // 400 {error: "invalid_grant", error_description: "grant request is invalid"}
  | "server_error_500" // 500 JSON {error: "server_error", error_description: "internal failure"}
  | "unavailable_503" // 503 JSON {error: "temporarily_unavailable"} with Retry-After
  | "invalid_grant_500" // 500 JSON {error: "invalid_grant"}: a server bug, not a dead grant
  | "html_500" // 500 text/html page
  | "invalid_json" // 200 application/json with a truncated body
  | "missing_access_token" // 200 JSON without access_token
  | "error_with_200" // 200 JSON {error: "invalid_grant"} (GitHub style)
  | "hang"; // never answers (until the server stops or the client gives up)

export type DeviceBehaviour =
  | "approve_after" // authorization_pending for `pendingPolls` polls, then the token behaviour
  | "slow_down_storm" // always slow_down
  | "expire" // always authorization_pending; expired_token once the device code has expired
  | "deny"; // access_denied from the first poll on

export interface OAuthFakeOptions {
  /** default "ok", for the authorization_code, device_code and refresh_token grants */
  token?: TokenBehaviour;
  /** overrides `token` for refresh_token grants */
  refresh?: TokenBehaviour;
  /** seconds, default 3600 */
  accessTokenTtl?: number;
  /** what GET /authorize does once the request is valid (default "redirect": code and state) */
  authorize?: "redirect" | "deny" | "missing_code" | "wrong_state";
  /** default "approve_after" */
  device?: DeviceBehaviour;
  /** default 1 */
  pendingPolls?: number;
  /** seconds sent in the device response (default 1; 0 omits `interval`) */
  deviceInterval?: number;
  /** seconds, default 600; whatever the device behaviour, an expired device code gets expired_token */
  deviceExpiresIn?: number;
  /** default true: a used refresh token is dead afterwards (400 invalid_grant) */
  rotateRefreshToken?: boolean;
  /** default "fake-client"; any other client_id (or none) gets 401 invalid_client */
  clientId?: string;
  /**
   * The id_token sent beside the tokens (none by default). `nonce` is what /authorize was sent
   * for this grant; `fakeIdToken` builds one with any header and claims.
   */
  /**
   * A confidential client: every form endpoint then requires this secret, sent as `clientAuth`
   * says (default: either way), and the metadata lists that method alone.
   */
  clientSecret?: string;
  clientAuth?: "client_secret_post" | "client_secret_basic";
  /** Rewrites the device authorization answer (hostile user codes, foreign URIs, interval 0). */
  deviceAnswer?: (standard: Record<string, unknown>) => Record<string, unknown>;
  /** true: every form endpoint refuses with the raw request body quoted in error_description (servers that echo secrets) */
  echoSecrets?: boolean;
  /** Where the metadata says the token endpoint is (default "/token"; "/v2/token" is served too) */
  tokenPath?: "/token" | "/v2/token";
  /** What POST /revoke does (default "ok": RFC 7009 §2.2's 200) */
  revoke?: "ok" | "server_error_500" | "unavailable_503" | "hang";
  /** The scope granted for a requested one (default: all of it), as servers narrow grants. */
  grantedScope?: (requested: string) => string;
  /** default true; false: answers carry no refresh_token */
  issueRefreshToken?: boolean;
  idToken?: (context: {
    grant: "authorization_code" | "refresh_token" | "device_code";
    nonce?: string;
    issuer: string;
    clientId: string;
  }) => string | undefined;
}

/**
 * A JWT with the given header and claims and a meaningless signature: the client validates the
 * claims of an id_token it got straight from the token endpoint over TLS (OIDC Core §3.1.3.7 6),
 * so no key is needed to test them.
 */
export function fakeIdToken(
  claims: Record<string, unknown>,
  header: Record<string, unknown> = { alg: "RS256", typ: "JWT" },
): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part(header)}.${part(claims)}.${String(header.alg).toLowerCase() === "none" ? "" : Buffer.from(hex(32)).toString("base64url")}`;
}

export interface OAuthFakeRequest extends RecordedRequest<Record<string, string>, "contentType" | "query"> {
  /** parsed form body (a JSON object body is recorded too, values as strings); {} otherwise */
  body: Record<string, string>;
  /** query parameters (what GET /authorize was sent) */
  query: Record<string, string>;
}

export interface OAuthFake {
  /** http://127.0.0.1:<port>, also the issuer */
  url: string;
  /** mutable: tests change behaviour between steps */
  options: OAuthFakeOptions;
  requests: OAuthFakeRequest[];
  counts: { authorize: number; token: number; refresh: number; device: number; poll: number; revoke: number };
  issued: { accessTokens: string[]; refreshTokens: string[] };
  stop(): void;
}

export const FAKE_CLIENT_ID = "fake-client";
export const FAKE_USER_CODE = "ABCD-EFGH";
export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

interface TokenRecord {
  kind: "access" | "refresh";
  grant: number;
  scope: string;
  expiresAt: number;
  dead: boolean;
}
interface CodeRecord {
  nonce?: string;
  redirectUri: string;
  challenge: string;
  scope: string;
  grant: number;
  used: boolean;
}
interface DeviceRecord {
  scope: string;
  expiresAt: number;
  polls: number;
  grant: number;
  used: boolean;
}

const random = (prefix: string) => `${prefix}-${hex(16)}`;

/** Token endpoint answers are never cached (RFC 6749 §5.1). */
const TOKEN_HEADERS = { ...NO_STORE, pragma: "no-cache" };
const tokenJson = (status: number, body: unknown) => Response.json(body, { status, headers: TOKEN_HEADERS });
const oauthError = (status: number, error: string, description?: string) =>
  kitOAuthError(status, error, description, TOKEN_HEADERS);

/** The client_id from the body, or the user of HTTP Basic auth (RFC 6749 §2.3.1 form-encodes it). */
function clientIdOf(req: Request, body: Record<string, string>): string | undefined {
  if (body.client_id !== undefined) return body.client_id;
  const basic = basicCredentials(req);
  return basic && formDecode(basic[0]);
}

/** RFC 8252 §7.3: native apps use http on a loopback address, any port. */
function isLoopbackRedirect(value: string | undefined): boolean {
  const url = parseUrl(value);
  return url?.protocol === "http:" && LOOPBACK_HOSTS.includes(url.hostname) && !url.hash;
}

export function startOAuthFake(initial: OAuthFakeOptions = {}): OAuthFake {
  const options: OAuthFakeOptions = { ...initial };
  const requests: OAuthFakeRequest[] = [];
  const counts = { authorize: 0, token: 0, refresh: 0, device: 0, poll: 0, revoke: 0 };
  const issued = { accessTokens: [] as string[], refreshTokens: [] as string[] };
  const tokens = new Map<string, TokenRecord>();
  const codes = new Map<string, CodeRecord>();
  const deviceCodes = new Map<string, DeviceRecord>();
  const hanging = new Set<() => void>();
  let grants = 0;

  const clientId = () => options.clientId ?? FAKE_CLIENT_ID;
  const killGrant = (grant: number) => {
    for (const record of tokens.values()) if (record.grant === grant) record.dead = true;
  };

  /** Issue tokens for a grant; `refreshToken` is kept instead of a new one when not rotating. */
  function issueTokens(
    grant: number,
    scope: string,
    refreshToken?: string,
    idContext?: { grant: "authorization_code" | "refresh_token" | "device_code"; nonce?: string },
  ): Response {
    const ttl = options.accessTokenTtl ?? 3600;
    scope = options.grantedScope ? options.grantedScope(scope) : scope;
    const accessToken = random("fake-at");
    tokens.set(accessToken, {
      kind: "access",
      grant,
      scope,
      expiresAt: Date.now() + ttl * 1000,
      dead: false,
    });
    issued.accessTokens.push(accessToken);
    if (refreshToken === undefined) {
      refreshToken = random("fake-rt");
      tokens.set(refreshToken, { kind: "refresh", grant, scope, expiresAt: Infinity, dead: false });
      issued.refreshTokens.push(refreshToken);
    }
    const idToken = idContext && options.idToken?.({ ...idContext, issuer: http.url, clientId: clientId() });
    return tokenJson(200, {
      access_token: accessToken,
      token_type: "Bearer",
      expires_in: ttl,
      ...(options.issueRefreshToken === false ? {} : { refresh_token: refreshToken }),
      scope,
      ...(idToken ? { id_token: idToken } : {}),
    });
  }

  /** Never answers: the client has to time out. Released when the client goes away or on stop(). */
  function hang(req: Request, server: Bun.Server<undefined>): Promise<Response> {
    server.timeout(req, 0); // Bun would otherwise close the idle connection itself
    return new Promise((resolve) => {
      const release = () => {
        hanging.delete(release);
        resolve(new Response(null, { status: 503 }));
      };
      hanging.add(release);
      req.signal.addEventListener("abort", release, { once: true });
    });
  }

  /**
   * Everything but "ok" answers without consuming the code or refresh token: a server that
   * failed did not complete the grant, and tests may retry after switching to "ok".
   */
  function answer(
    behaviour: TokenBehaviour,
    req: Request,
    server: Bun.Server<undefined>,
    succeed: () => Response,
  ): Response | Promise<Response> {
    switch (behaviour) {
      case "ok":
        return succeed();
      case "invalid_grant":
        return oauthError(400, "invalid_grant", "grant request is invalid");
      case "server_error_500":
        return oauthError(500, "server_error", "internal failure");
      case "unavailable_503":
        return kitOAuthError(503, "temporarily_unavailable", "down for maintenance", {
          ...TOKEN_HEADERS,
          "retry-after": "60",
        });
      case "invalid_grant_500":
        return oauthError(500, "invalid_grant", "database timeout");
      case "html_500":
        return htmlPage(500, "500 Internal Server Error", "The server encountered an internal error.");
      case "invalid_json":
        return new Response('{"access_token":"fake-at-trunc', {
          status: 200,
          headers: { "content-type": "application/json", "cache-control": "no-store" },
        });
      case "missing_access_token":
        return tokenJson(200, {
          token_type: "Bearer",
          expires_in: options.accessTokenTtl ?? 3600,
          scope: "",
        });
      case "error_with_200":
        return tokenJson(200, { error: "invalid_grant" });
      case "hang":
        return hang(req, server);
    }
  }

  function authorize(query: Record<string, string>): Response {
    const bad = (text: string) => htmlPage(400, "Invalid authorization request", text);
    // RFC 6749 §4.1.2.1: with an unknown client or a bad redirect_uri the server must not redirect.
    if (query.client_id !== clientId()) return bad(`unknown client_id: ${query.client_id ?? "(none)"}`);
    if (!isLoopbackRedirect(query.redirect_uri)) {
      return bad("redirect_uri must be an http URL on a loopback address (RFC 8252 §7.3)");
    }
    if (query.response_type !== "code") return bad("response_type must be code");
    if (!query.code_challenge || query.code_challenge_method !== "S256") {
      return bad("PKCE is required: code_challenge with code_challenge_method=S256 (RFC 7636)");
    }
    // An S256 challenge is the unpadded base64url of a SHA-256 digest: always 43 characters.
    if (!isS256Challenge(query.code_challenge))
      return bad("code_challenge is not a base64url SHA-256 digest");

    const to = new URL(query.redirect_uri!);
    const params = to.searchParams;
    const mode = options.authorize ?? "redirect";
    if (mode === "deny") {
      params.set("error", "access_denied");
      params.set("error_description", "The user denied the request");
    } else if (mode !== "missing_code") {
      const code = random("fake-code");
      codes.set(code, {
        nonce: query.nonce,
        redirectUri: query.redirect_uri!,
        challenge: query.code_challenge,
        scope: query.scope ?? "",
        grant: ++grants,
        used: false,
      });
      params.set("code", code);
    }
    if (mode === "wrong_state") params.set("state", random("wrong-state"));
    else if (query.state !== undefined) params.set("state", query.state);
    return redirect(to);
  }

  function tokenEndpoint(req: Request, body: Record<string, string>, server: Bun.Server<undefined>) {
    switch (body.grant_type) {
      case "authorization_code": {
        const code = body.code === undefined ? undefined : codes.get(body.code);
        if (!code) return oauthError(400, "invalid_grant", "authorization code is invalid");
        if (code.used) {
          // RFC 6749 §4.1.2: a replayed code should revoke what it was exchanged for.
          killGrant(code.grant);
          return oauthError(400, "invalid_grant", "authorization code was already used");
        }
        if (body.redirect_uri !== code.redirectUri) {
          return oauthError(400, "invalid_grant", "redirect_uri does not match the one sent to /authorize");
        }
        // RFC 7636 §4.1 and §4.6: a 43–128 character verifier whose S256 hash is the challenge.
        if (!verifierMatches(body.code_verifier ?? "", code.challenge)) {
          return oauthError(400, "invalid_grant", "PKCE verification failed");
        }
        return answer(options.token ?? "ok", req, server, () => {
          code.used = true;
          return issueTokens(code.grant, code.scope, undefined, {
            grant: "authorization_code",
            nonce: code.nonce,
          });
        });
      }
      case "refresh_token": {
        const record = body.refresh_token === undefined ? undefined : tokens.get(body.refresh_token);
        if (!record || record.kind !== "refresh" || record.dead) {
          return oauthError(400, "invalid_grant", "refresh token is invalid or was already used");
        }
        const rotate = options.rotateRefreshToken ?? true;
        return answer(options.refresh ?? options.token ?? "ok", req, server, () => {
          if (rotate) record.dead = true;
          return issueTokens(record.grant, record.scope, rotate ? undefined : body.refresh_token, {
            grant: "refresh_token",
          });
        });
      }
      case DEVICE_CODE_GRANT: {
        const device = body.device_code === undefined ? undefined : deviceCodes.get(body.device_code);
        if (!device || device.used)
          return oauthError(400, "invalid_grant", "device code is invalid or was already used");
        device.polls += 1;
        // RFC 8628 §3.5: the error codes of a device access token request, all with HTTP 400.
        if (Date.now() >= device.expiresAt)
          return oauthError(400, "expired_token", "the device code has expired");
        switch (options.device ?? "approve_after") {
          case "slow_down_storm":
            return oauthError(400, "slow_down", "polling too fast");
          case "expire":
            return oauthError(400, "authorization_pending", "the user has not finished yet");
          case "deny":
            return oauthError(400, "access_denied", "the user denied the request");
          case "approve_after":
            if (device.polls <= (options.pendingPolls ?? 1)) {
              return oauthError(400, "authorization_pending", "the user has not finished yet");
            }
            return answer(options.token ?? "ok", req, server, () => {
              device.used = true;
              return issueTokens(device.grant, device.scope, undefined, { grant: "device_code" });
            });
        }
      }
    }
    if (body.grant_type === undefined) return oauthError(400, "invalid_request", "grant_type is required");
    return oauthError(400, "unsupported_grant_type", `unsupported grant_type: ${body.grant_type}`);
  }

  function deviceAuthorization(body: Record<string, string>): Response {
    const expiresIn = options.deviceExpiresIn ?? 600;
    const interval = options.deviceInterval ?? 1;
    const deviceCode = random("fake-dc");
    deviceCodes.set(deviceCode, {
      scope: body.scope ?? "",
      expiresAt: Date.now() + expiresIn * 1000,
      polls: 0,
      grant: ++grants,
      used: false,
    });
    const standard = {
      device_code: deviceCode,
      user_code: FAKE_USER_CODE,
      verification_uri: `${http.url}/device`,
      verification_uri_complete: `${http.url}/device?user_code=${FAKE_USER_CODE}`,
      expires_in: expiresIn,
      ...(interval ? { interval } : {}),
    };
    return tokenJson(200, options.deviceAnswer ? options.deviceAnswer(standard) : standard);
  }

  /** RFC 7009 §2.2: 200 whether or not the token was known; a refresh token takes its grant along. */
  function revoke(body: Record<string, string>): Response {
    if (!body.token) return oauthError(400, "invalid_request", "token is required");
    const record = tokens.get(body.token);
    if (record?.kind === "refresh") killGrant(record.grant);
    else if (record) record.dead = true;
    return new Response(null, { status: 200 });
  }

  /** RFC 6750 §3: 401 with a WWW-Authenticate challenge for a missing or bad token. */
  function userinfo(req: Request): Response {
    const bearer = bearerOf(req);
    if (!bearer) return new Response(null, { status: 401, headers: { "www-authenticate": "Bearer" } });
    const record = tokens.get(bearer);
    if (!record || record.kind !== "access" || record.dead || Date.now() >= record.expiresAt) {
      return Response.json(
        { error: "invalid_token", error_description: "access token is invalid or expired" },
        { status: 401, headers: { "www-authenticate": 'Bearer error="invalid_token"' } },
      );
    }
    return Response.json({ sub: "fake-user" });
  }

  function metadata(): Response {
    const url = http.url;
    return Response.json({
      issuer: url,
      authorization_endpoint: `${url}/authorize`,
      token_endpoint: `${url}${options.tokenPath ?? "/token"}`,
      device_authorization_endpoint: `${url}/device/code`,
      revocation_endpoint: `${url}/revoke`,
      userinfo_endpoint: `${url}/userinfo`,
      response_types_supported: ["code"],
      grant_types_supported: ["authorization_code", "refresh_token", DEVICE_CODE_GRANT],
      token_endpoint_auth_methods_supported: options.clientSecret
        ? options.clientAuth
          ? [options.clientAuth]
          : ["client_secret_basic", "client_secret_post"]
        : ["none"],
      code_challenge_methods_supported: ["S256"],
    });
  }

  /**
   * The form endpoints: RFC 6749 §4.1.3, RFC 8628 §3.1, RFC 7009 §2.1 form-encode the parameters;
   * RFC 6749 §5.2: invalid_client, with 401, covers both an unknown and a missing client.
   */
  const checked = (
    { req, contentType, body, raw }: Incoming<Record<string, string>>,
    endpoint: () => Response | Promise<Response>,
  ) =>
    (options.echoSecrets ? oauthError(400, "invalid_request", `could not process ${raw}`) : undefined) ??
    requireForm(contentType, oauthError) ??
    (clientIdOf(req, body) !== clientId() || !secretOk(req, body)
      ? oauthError(401, "invalid_client", "client authentication failed")
      : endpoint());

  /** RFC 6749 §2.3.1: the secret in Basic auth (form-encoded) or in the body, as configured. */
  function secretOk(req: Request, body: Record<string, string>): boolean {
    if (!options.clientSecret) return true;
    const basic = basicCredentials(req);
    const viaBasic = basic !== undefined && formDecode(basic[1]) === options.clientSecret;
    const viaPost = body.client_secret === options.clientSecret;
    if (options.clientAuth === "client_secret_basic") return viaBasic && body.client_secret === undefined;
    if (options.clientAuth === "client_secret_post") return viaPost;
    return viaBasic || viaPost;
  }

  const http = serveFake({
    body: bodyReader({ form: isForm, json: mentionsJson, strings: true }),
    record: { into: requests, fields: ["method", "path", "contentType", "body", "query", "at"] },
    routes: {
      "GET /.well-known/openid-configuration": metadata,
      "GET /.well-known/oauth-authorization-server": metadata,
      "GET /authorize": ({ query }) => {
        counts.authorize += 1;
        return authorize(query);
      },
      "GET /device": ({ query }) =>
        htmlPage(200, "Device login", `Enter the code ${query.user_code ?? ""} to continue.`),
      "GET /userinfo": ({ req }) => userinfo(req),
      "POST /userinfo": ({ req }) => userinfo(req),
      "POST /token": (x) => {
        if (x.body.grant_type === "authorization_code") counts.token += 1;
        else if (x.body.grant_type === "refresh_token") counts.refresh += 1;
        else if (x.body.grant_type === DEVICE_CODE_GRANT) counts.poll += 1;
        return checked(x, () => tokenEndpoint(x.req, x.body, x.server));
      },
      "POST /v2/token": (x) => {
        if (x.body.grant_type === "authorization_code") counts.token += 1;
        else if (x.body.grant_type === "refresh_token") counts.refresh += 1;
        else if (x.body.grant_type === DEVICE_CODE_GRANT) counts.poll += 1;
        return checked(x, () => tokenEndpoint(x.req, x.body, x.server));
      },
      "POST /device/code": (x) => {
        counts.device += 1;
        return checked(x, () => deviceAuthorization(x.body));
      },
      "POST /revoke": (x) => {
        counts.revoke += 1;
        switch (options.revoke ?? "ok") {
          case "server_error_500":
            return oauthError(500, "server_error", "internal failure");
          case "unavailable_503":
            return new Response(null, { status: 503, headers: { "retry-after": "120" } });
          case "hang":
            return hang(x.req, x.server);
        }
        return checked(x, () => revoke(x.body));
      },
    },
    notFound: () => new Response("not found", { status: 404 }),
  });

  return {
    url: http.url,
    options,
    requests,
    counts,
    issued,
    stop() {
      http.stop();
      for (const release of [...hanging]) release();
    },
  };
}

// --------------------------------------------------------------------------- mix-up attacker

export interface MixUpAttacker {
  /** http://127.0.0.1:<port>, also the issuer its metadata names */
  url: string;
  counts: { authorize: number; token: number };
  /** token answers the honest server gave for codes this attacker redeemed */
  stolen: Array<Record<string, unknown>>;
  stop(): void;
}

/**
 * The mix-up attack of RFC 9700 §4.4 / RFC 9207 §1: a server the user configured as one provider
 * (its metadata names itself as issuer) sends the browser on to an honest server with the
 * client's own redirect_uri, state and PKCE challenge. The honest server answers the client with
 * `code`, `state` and its own `iss`; a client that does not check `iss` then posts the code and
 * verifier to this server's token endpoint, which redeems them at the honest one.
 */
export function startMixUpAttacker(
  honest: { authorizeUrl: string; tokenUrl: string },
  options: { advertiseIss?: boolean } = {},
): MixUpAttacker {
  const counts = { authorize: 0, token: 0 };
  const stolen: Array<Record<string, unknown>> = [];
  let url = "";
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const { pathname, search } = new URL(req.url);
      if (
        pathname === "/.well-known/openid-configuration" ||
        pathname === "/.well-known/oauth-authorization-server"
      ) {
        return Response.json({
          issuer: url,
          authorization_endpoint: `${url}/authorize`,
          token_endpoint: `${url}/token`,
          response_types_supported: ["code"],
          code_challenge_methods_supported: ["S256"],
          ...(options.advertiseIss ? { authorization_response_iss_parameter_supported: true } : {}),
        });
      }
      if (pathname === "/authorize") {
        counts.authorize++;
        return new Response(null, { status: 302, headers: { location: `${honest.authorizeUrl}${search}` } });
      }
      if (pathname === "/token" && req.method === "POST") {
        counts.token++;
        const relayed = await fetch(honest.tokenUrl, {
          method: "POST",
          headers: { "content-type": req.headers.get("content-type") ?? FORM_TYPE },
          body: await req.text(),
        });
        const text = await relayed.text();
        try {
          stolen.push(JSON.parse(text) as Record<string, unknown>);
        } catch {}
        return new Response(text, {
          status: relayed.status,
          headers: { "content-type": "application/json", ...NO_STORE },
        });
      }
      return new Response("not found", { status: 404 });
    },
  });
  url = `http://127.0.0.1:${server.port}`;
  return { url, counts, stolen, stop: () => void server.stop(true) };
}

const FORM_TYPE = "application/x-www-form-urlencoded";
