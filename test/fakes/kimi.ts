/**
 * Kimi Code's OAuth device flow (auth.kimi.com) on 127.0.0.1, written from providers.md §8, whose
 * source is MoonshotAI/kimi-cli src/kimi_cli/auth/oauth.py (not from authctl's code).
 *
 *   const fake = startKimiFake({ interval: 1 });
 *   const { device_code, user_code } = …POST /api/oauth/device_authorization…;
 *   fake.approve(user_code);                             // the user entered the code
 *
 * Endpoints (form-encoded bodies; JSON answers):
 *   POST /api/oauth/device_authorization   client_id
 *     → {user_code, device_code, verification_uri, verification_uri_complete, expires_in, interval}
 *   POST /api/oauth/token   grant_type=urn:ietf:params:oauth:grant-type:device_code, client_id, device_code
 *                           grant_type=refresh_token, refresh_token, client_id
 *     → {access_token, refresh_token, expires_in, scope, token_type}
 *   GET  /device            the page verification_uri points at (HTML)
 *
 * Both POST endpoints require the `X-Msh-Platform` and `X-Msh-Device-Id` headers (400
 * invalid_request without them). kimi-cli always sends the X-Msh-* headers, but whether the real
 * server rejects a request without them is UNCERTAIN: §8 lists the headers, not the server's
 * reaction. `options.requireMshHeaders = false` turns the check off.
 *
 * Poll answers, in the order checked (RFC 8628 §3.5 shapes, HTTP 400 unless said otherwise):
 * 400 invalid_request (not a form / X-Msh-* missing), 401 invalid_client, unsupported_grant_type,
 * options.poll ≠ "ok" (429 / 500: §8 says the client keeps polling on "anything else"),
 * invalid_grant (unknown or already exchanged device code), expired_token, access_denied (after
 * deny()), the token (after approve()), authorization_pending.
 *
 * Refresh tokens rotate (§1, §8, §11): a refresh token is dead once used, and a dead or unknown
 * one gets 401 invalid_grant (§8: "401/403 = unauthorized"). options.refresh answers the other
 * documented refresh failures (403, 429, 5xx) without consuming the refresh token.
 *
 * Choices where §8 is silent:
 * - pending is 400 {error: "authorization_pending"} (RFC 8628); §8 only says a 200 with
 *   access_token means done and expired_token means restart;
 * - the refresh grant must carry client_id too (a public client identifies itself, RFC 6749
 *   §3.2.1; stricter than §8's "form grant_type=refresh_token", harmless against the real server);
 * - scope in the token answer is "kimi-code"; token_type is "Bearer"; user codes are unique per
 *   device authorization (random, "XXXX-XXXX"), so approve() picks exactly one device code.
 *
 * `requests` holds every request, in order (headers lower-cased); `counts` counts requests per
 * endpoint whatever the answer (`poll` = device-code grants, `refresh` = refresh grants).
 */
import { randomBytes } from "node:crypto";

import {
  bareHtmlPage,
  deviceDecisions,
  formBody,
  hex,
  isForm,
  oauthError,
  requireClient,
  requireForm,
  serveFake,
  unsupportedGrant,
  type DeviceState,
  type RecordedRequest,
} from "./_kit.ts";

export const KIMI_CLIENT_ID = "17e5f671-d194-4dfb-9706-5516cb48c098";
export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
/** What kimi-cli sends (providers.md §8); `X-Msh-Device-Id` is a persisted uuid hex. */
export const KIMI_MSH_HEADERS: Record<string, string> = {
  "X-Msh-Platform": "kimi_cli",
  "X-Msh-Version": "1.0.0",
  "X-Msh-Device-Name": "test-host",
  "X-Msh-Device-Model": "test-model",
  "X-Msh-Os-Version": "test-os",
  "X-Msh-Device-Id": "0123456789abcdef0123456789abcdef",
};

export interface KimiFakeOptions {
  /** the client_id the server knows (default KIMI_CLIENT_ID) */
  clientId?: string;
  /** seconds, default 600; 0 makes a device code expire at once */
  expiresIn?: number;
  /** seconds sent as `interval`, default 5 (the fake does not enforce it) */
  interval?: number;
  /** access-token lifetime in seconds, default 3600 */
  accessTokenTtl?: number;
  /** default true: requests without X-Msh-Platform / X-Msh-Device-Id get 400 (UNCERTAIN, see above) */
  requireMshHeaders?: boolean;
  /** device-code polls: "ok" (default) follows the flow; the others answer 429 / 500 */
  poll?: "ok" | "rate_limited_429" | "server_error_500";
  /** refresh grants with a live refresh token: "ok" (default) or a documented failure */
  refresh?: "ok" | "unauthorized_401" | "forbidden_403" | "rate_limited_429" | "server_error_500";
}

export interface KimiFakeRequest extends RecordedRequest<Record<string, string>, "contentType" | "headers"> {
  /** parsed form body; {} otherwise */
  body: Record<string, string>;
}

export interface KimiFake {
  url: string;
  options: KimiFakeOptions;
  requests: KimiFakeRequest[];
  counts: { device: number; poll: number; refresh: number };
  issued: { accessTokens: string[]; refreshTokens: string[] };
  /** the user entered this code and approved */
  approve(userCode: string): void;
  /** the user entered this code and declined: polls get access_denied */
  deny(userCode: string): void;
  stop(): void;
}

interface DeviceRecord {
  userCode: string;
  expiresAt: number;
  state: DeviceState;
}

function userCode(): string {
  const letters = "BCDFGHJKLMNPQRSTVWXZ";
  const bytes = randomBytes(8);
  const chars = [...bytes].map((b) => letters[b % letters.length]);
  return `${chars.slice(0, 4).join("")}-${chars.slice(4).join("")}`;
}

export function startKimiFake(initial: KimiFakeOptions = {}): KimiFake {
  const options: KimiFakeOptions = { ...initial };
  const requests: KimiFakeRequest[] = [];
  const counts = { device: 0, poll: 0, refresh: 0 };
  const issued = { accessTokens: [] as string[], refreshTokens: [] as string[] };
  const devices = new Map<string, DeviceRecord>();
  /** refresh token → still usable */
  const refreshTokens = new Map<string, boolean>();

  function issue(): Response {
    const accessToken = `kimi-at-${hex(16)}`;
    const refreshToken = `kimi-rt-${hex(16)}`;
    issued.accessTokens.push(accessToken);
    issued.refreshTokens.push(refreshToken);
    refreshTokens.set(refreshToken, true);
    return Response.json(
      {
        access_token: accessToken,
        refresh_token: refreshToken,
        expires_in: options.accessTokenTtl ?? 3600,
        scope: "kimi-code",
        token_type: "Bearer",
      },
      { headers: { "cache-control": "no-store" } },
    );
  }

  function deviceAuthorization(): Response {
    const expiresIn = options.expiresIn ?? 600;
    const code = userCode();
    const deviceCode = hex(20);
    devices.set(deviceCode, { userCode: code, expiresAt: Date.now() + expiresIn * 1000, state: "pending" });
    return Response.json({
      user_code: code,
      device_code: deviceCode,
      verification_uri: `${http.url}/device`,
      verification_uri_complete: `${http.url}/device?user_code=${code}`,
      expires_in: expiresIn,
      interval: options.interval ?? 5,
    });
  }

  function poll(body: Record<string, string>): Response {
    const mode = options.poll ?? "ok";
    if (mode === "rate_limited_429") return oauthError(429, "rate_limited", "too many requests");
    if (mode === "server_error_500") return oauthError(500, "server_error", "internal failure");
    const device = body.device_code === undefined ? undefined : devices.get(body.device_code);
    if (!device || device.state === "used") return oauthError(400, "invalid_grant", "device code is invalid");
    if (Date.now() >= device.expiresAt)
      return oauthError(400, "expired_token", "the device code has expired");
    if (device.state === "denied") return oauthError(400, "access_denied", "the user denied the request");
    if (device.state === "approved") {
      device.state = "used";
      return issue();
    }
    return oauthError(400, "authorization_pending", "the user has not finished yet");
  }

  function refresh(body: Record<string, string>): Response {
    const token = body.refresh_token;
    if (token === undefined || refreshTokens.get(token) !== true) {
      return oauthError(401, "invalid_grant", "refresh token is invalid or was already used");
    }
    switch (options.refresh ?? "ok") {
      case "unauthorized_401":
        return oauthError(401, "invalid_grant", "refresh token was revoked");
      case "forbidden_403":
        return oauthError(403, "access_denied", "the account may not use this client");
      case "rate_limited_429":
        return oauthError(429, "rate_limited", "too many requests");
      case "server_error_500":
        return oauthError(500, "server_error", "internal failure");
      case "ok":
        refreshTokens.set(token, false); // rotation: the used refresh token is dead
        return issue();
    }
  }

  /** Both POST endpoints: a form, the X-Msh-* headers, the client; then the endpoint itself. */
  function checked(
    req: Request,
    contentType: string | null,
    body: Record<string, string>,
    endpoint: () => Response,
  ) {
    const notForm = requireForm(contentType);
    if (notForm) return notForm;
    // UNCERTAIN: kimi-cli always sends these; the real server's strictness is not documented.
    if (
      (options.requireMshHeaders ?? true) &&
      (!req.headers.get("x-msh-platform") || !req.headers.get("x-msh-device-id"))
    ) {
      return oauthError(400, "invalid_request", "X-Msh-Platform and X-Msh-Device-Id headers are required");
    }
    return requireClient(body.client_id, options.clientId ?? KIMI_CLIENT_ID) ?? endpoint();
  }

  const http = serveFake({
    body: (raw, contentType) => (isForm(contentType) ? formBody(raw) : {}),
    record: { into: requests, fields: ["method", "path", "contentType", "body", "headers", "at"] },
    routes: {
      "GET /device": () => bareHtmlPage("Kimi device login"),
      "POST /api/oauth/device_authorization": ({ req, contentType, body }) => {
        counts.device += 1;
        return checked(req, contentType, body, deviceAuthorization);
      },
      "POST /api/oauth/token": ({ req, contentType, body }) => {
        if (body.grant_type === "refresh_token") counts.refresh += 1;
        else if (body.grant_type === DEVICE_CODE_GRANT) counts.poll += 1;
        return checked(req, contentType, body, () => {
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
    ...deviceDecisions(devices, (code) => `kimi fake: no pending device code has user code ${code}`),
    stop: http.stop,
  };
}
