/**
 * Qwen's device flow with PKCE (chat.qwen.ai) on 127.0.0.1, written from providers.md §6, whose
 * source is QwenLM/qwen-code packages/core/src/qwen/qwenOAuth2.ts (not from authctl's code). The real service stopped new logins on 2026-04-15; `discontinued: true`
 * makes the device endpoint refuse as §6 reports, while refresh keeps working ("keep only for
 * legacy refresh").
 *
 *   const fake = startQwenFake({ minPollIntervalMs: 100 });
 *   const { device_code, user_code } = …POST /api/v1/oauth2/device/code…;
 *   fake.approve(user_code);
 *
 * Endpoints (form-encoded bodies; JSON answers):
 *   POST /api/v1/oauth2/device/code   client_id, scope, code_challenge, code_challenge_method=S256
 *                                     + header x-request-id
 *     → {device_code, user_code, verification_uri, verification_uri_complete, expires_in}
 *   POST /api/v1/oauth2/token   grant_type=urn:ietf:params:oauth:grant-type:device_code, client_id,
 *                               device_code, code_verifier
 *     → {access_token, refresh_token, token_type, expires_in, scope, resource_url}
 *   POST /api/v1/oauth2/token   grant_type=refresh_token, refresh_token, client_id
 *   GET  /authorize             the page verification_uri points at (HTML)
 *
 * Poll answers, in the order checked: 400 invalid_request (not a form), 401 invalid_client,
 * 400 unsupported_grant_type, 401 invalid_grant (unknown or already exchanged device code),
 * 401 expired_token (§6: "401 = device code expired/invalid"), 400 invalid_grant (code_verifier
 * does not hash to the challenge), 429 slow_down (polled sooner than `minPollIntervalMs` after the
 * previous poll of that device code), 400 access_denied (after deny()), the token (after
 * approve()), 400 authorization_pending.
 *
 * Choices where §6 is silent:
 * - the discontinued answer is HTTP 403 {error: "access_denied", error_description:
 *   QWEN_FREE_TIER_ERROR}, the message §6 quotes (status code and error code are guesses);
 * - x-request-id must be present (any non-empty value) on the device endpoint only; without it
 *   400 invalid_request. Whether the real server checks it is UNCERTAIN;
 * - `resource_url` is a bare host ("the API host"; the client builds https://<resource_url>/v1);
 *   default "127.0.0.1:<port>" of this fake, `resourceUrl: null` omits it;
 * - the answer carries no `interval` (§6 lists none); slow_down needs a base of 2 s (qwen-code);
 * - refresh: no rotation by default (the answer omits refresh_token and the old one stays
 *   valid); `rotateRefreshToken: true` returns a new one and kills the old. An unknown or dead
 *   refresh token gets 400 invalid_grant; `refresh: "unauthorized_401"` answers 401 invalid_token.
 */
import {
  bareHtmlPage,
  deviceDecisions,
  formBody,
  hex,
  isForm,
  isS256Challenge,
  oauthError,
  requireClient,
  requireForm,
  s256,
  serveFake,
  unsupportedGrant,
  type DeviceState,
  type RecordedRequest,
} from "./_kit.ts";

export const QWEN_CLIENT_ID = "f0304373b74a44d2b584a3fb70ca9e56";
export const QWEN_SCOPE = "openid profile email model.completion";
export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
/** The error providers.md §6 quotes for the closed free tier (its text, ellipsis included). */
export const QWEN_FREE_TIER_ERROR = "Qwen OAuth free tier quota exceeded…";

export interface QwenFakeOptions {
  clientId?: string;
  /** default false; true: the device endpoint answers 403 with QWEN_FREE_TIER_ERROR */
  discontinued?: boolean;
  /** seconds, default 600; 0 makes a device code expire at once */
  expiresIn?: number;
  /** a poll sooner than this after the previous one gets 429 slow_down (default 2000) */
  minPollIntervalMs?: number;
  /** seconds, default 3600 */
  accessTokenTtl?: number;
  /** default false: the token answers carry no expires_in (the client should assume 3600 s) */
  omitExpiresIn?: boolean;
  /** default "127.0.0.1:<port>"; null omits resource_url */
  resourceUrl?: string | null;
  /** default false */
  rotateRefreshToken?: boolean;
  /** refresh grants with a live refresh token: "ok" (default), "invalid_grant_400" or "unauthorized_401" */
  refresh?: "ok" | "invalid_grant_400" | "unauthorized_401";
}

export interface QwenFakeRequest extends RecordedRequest<Record<string, string>, "contentType" | "headers"> {}

export interface QwenFake {
  url: string;
  options: QwenFakeOptions;
  requests: QwenFakeRequest[];
  counts: { device: number; poll: number; refresh: number };
  issued: { accessTokens: string[]; refreshTokens: string[] };
  approve(userCode: string): void;
  deny(userCode: string): void;
  stop(): void;
}

interface DeviceRecord {
  userCode: string;
  challenge: string;
  scope: string;
  expiresAt: number;
  lastPoll: number | undefined;
  state: DeviceState;
}

export function startQwenFake(initial: QwenFakeOptions = {}): QwenFake {
  const options: QwenFakeOptions = { ...initial };
  const requests: QwenFakeRequest[] = [];
  const counts = { device: 0, poll: 0, refresh: 0 };
  const issued = { accessTokens: [] as string[], refreshTokens: [] as string[] };
  const devices = new Map<string, DeviceRecord>();
  /** refresh token → whether it is still usable, and its scope */
  const refreshTokens = new Map<string, { live: boolean; scope: string }>();

  function issue(scope: string, keepRefreshToken?: string): Response {
    const accessToken = `qwen-at-${hex(16)}`;
    issued.accessTokens.push(accessToken);
    let refreshToken: string | undefined;
    if (keepRefreshToken === undefined) {
      refreshToken = `qwen-rt-${hex(16)}`;
      issued.refreshTokens.push(refreshToken);
      refreshTokens.set(refreshToken, { live: true, scope });
    }
    const resourceUrl = options.resourceUrl === undefined ? http.host : options.resourceUrl;
    return Response.json(
      {
        access_token: accessToken,
        ...(refreshToken === undefined ? {} : { refresh_token: refreshToken }),
        token_type: "Bearer",
        ...(options.omitExpiresIn ? {} : { expires_in: options.accessTokenTtl ?? 3600 }),
        scope,
        ...(resourceUrl === null ? {} : { resource_url: resourceUrl }),
      },
      { headers: { "cache-control": "no-store" } },
    );
  }

  function deviceCode(req: Request, body: Record<string, string>): Response {
    if (options.discontinued) return oauthError(403, "access_denied", QWEN_FREE_TIER_ERROR);
    if (!req.headers.get("x-request-id"))
      return oauthError(400, "invalid_request", "x-request-id header is required");
    if (!body.scope) return oauthError(400, "invalid_request", "scope is required");
    if (body.code_challenge_method !== "S256" || !isS256Challenge(body.code_challenge)) {
      return oauthError(
        400,
        "invalid_request",
        "PKCE is required: code_challenge with code_challenge_method=S256",
      );
    }
    const expiresIn = options.expiresIn ?? 600;
    const device_code = hex(20);
    const user_code = `${hex(4).toUpperCase()}`;
    devices.set(device_code, {
      userCode: user_code,
      challenge: body.code_challenge!,
      scope: body.scope,
      expiresAt: Date.now() + expiresIn * 1000,
      lastPoll: undefined,
      state: "pending",
    });
    return Response.json({
      device_code,
      user_code,
      verification_uri: `${http.url}/authorize`,
      verification_uri_complete: `${http.url}/authorize?user_code=${user_code}&client=qwen-code`,
      expires_in: expiresIn,
    });
  }

  function poll(body: Record<string, string>): Response {
    const device = body.device_code === undefined ? undefined : devices.get(body.device_code);
    if (!device || device.state === "used") return oauthError(401, "invalid_grant", "device code is invalid");
    const now = Date.now();
    if (now >= device.expiresAt) return oauthError(401, "expired_token", "the device code has expired");
    if (s256(body.code_verifier ?? "") !== device.challenge)
      return oauthError(400, "invalid_grant", "code_verifier does not match code_challenge");
    const previous = device.lastPoll;
    device.lastPoll = now;
    if (previous !== undefined && now - previous < (options.minPollIntervalMs ?? 2000)) {
      return oauthError(429, "slow_down", "polling too frequently");
    }
    if (device.state === "denied") return oauthError(400, "access_denied", "the user denied the request");
    if (device.state === "approved") {
      device.state = "used";
      return issue(device.scope);
    }
    return oauthError(400, "authorization_pending", "the user has not finished yet");
  }

  function refresh(body: Record<string, string>): Response {
    const token = body.refresh_token;
    const record = token === undefined ? undefined : refreshTokens.get(token);
    if (!record?.live) return oauthError(400, "invalid_grant", "refresh token is invalid or expired");
    switch (options.refresh ?? "ok") {
      case "invalid_grant_400":
        return oauthError(400, "invalid_grant", "refresh token is invalid or expired");
      case "unauthorized_401":
        return oauthError(401, "invalid_token", "invalid access token or token expired");
      case "ok":
        if (options.rotateRefreshToken) {
          record.live = false;
          return issue(record.scope);
        }
        return issue(record.scope, token);
    }
  }

  /** Both POST endpoints: a form and the client; then the endpoint itself. */
  const checked = (contentType: string | null, body: Record<string, string>, endpoint: () => Response) =>
    requireForm(contentType) ??
    requireClient(body.client_id, options.clientId ?? QWEN_CLIENT_ID) ??
    endpoint();

  const http = serveFake({
    body: (raw, contentType) => (isForm(contentType) ? formBody(raw) : {}),
    record: { into: requests, fields: ["method", "path", "contentType", "body", "headers", "at"] },
    routes: {
      "GET /authorize": () => bareHtmlPage("Qwen device login"),
      "POST /api/v1/oauth2/device/code": ({ req, contentType, body }) => {
        counts.device += 1;
        return checked(contentType, body, () => deviceCode(req, body));
      },
      "POST /api/v1/oauth2/token": ({ contentType, body }) => {
        if (body.grant_type === "refresh_token") counts.refresh += 1;
        else if (body.grant_type === DEVICE_CODE_GRANT) counts.poll += 1;
        return checked(contentType, body, () => {
          if (body.grant_type === DEVICE_CODE_GRANT) return poll(body);
          if (body.grant_type === "refresh_token") return refresh(body);
          return unsupportedGrant(body.grant_type);
        });
      },
    },
    notFound: () => Response.json({ error: "not_found" }, { status: 404 }),
  });

  return {
    url: http.url,
    options,
    requests,
    counts,
    issued,
    ...deviceDecisions(devices, (userCode) => `qwen fake: no pending device code has user code ${userCode}`),
    stop: http.stop,
  };
}
