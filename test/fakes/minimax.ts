/**
 * MiniMax's coding-plan device flow with PKCE, on 127.0.0.1, following the current opencode plugin
 * (anomalyco/opencode packages/opencode/src/plugin/minimax/minimax.ts: account.minimax.io for global
 * accounts, account.minimaxi.com for China, paths /oauth2/device/code and /oauth2/token, client
 * d38bdbee-…, scope "openid profile coding_plan", grant_type = the RFC 8628 device-code URN keyed
 * by user_code) and MiniMax's response envelope (openclaw/openclaw extensions/minimax/base-resp.ts:
 * base_resp.status_code 0 = success). Written from those sources, not from authctl's code.
 *
 *   const fake = startMiniMaxFake();
 *   const { user_code } = …POST /oauth2/device/code…;
 *   fake.approve(user_code);                             // the user entered the code
 *
 * Endpoints (form-encoded bodies; JSON answers):
 *   POST /oauth2/device/code   client_id, scope, code_challenge, code_challenge_method=S256, state
 *     → {verification_uri, user_code, expired_in: <unix ms deadline>, interval: <ms>, state: <echo>}
 *   POST /oauth2/token   grant_type=urn:ietf:params:oauth:grant-type:device_code, client_id, user_code, code_verifier
 *     → {status: "pending"} until approve(), then
 *       {status: "success", access_token, refresh_token, expired_in: <unix ms deadline>, resource_url}
 *       (with `envelope: "base_resp"`: no `status`, but base_resp: {status_code: 0, status_msg: "success"})
 *   POST /oauth2/token   grant_type=refresh_token, refresh_token, client_id  → the same success shape
 *     (opencode's doRefresh reads `expired_in` from it; there is no `expires_in`)
 *   GET  /device        the page verification_uri points at (HTML)
 *
 * Checks, as a real server would: form content type, client_id, scope present, an S256
 * code_challenge (43 base64url characters), state present; at the token endpoint the verifier's
 * S256 hash must equal the challenge sent with that user_code.
 *
 * Choices where the sources are silent (guesses; the real server is not documented):
 * - errors are HTTP 400 (401 for the client) with `{status: "error", error, error_description}`:
 *   a client that switches on `status` sees neither "pending" nor "success", one that reads
 *   OAuth errors sees `error`. Wrong code_verifier → 400 error "invalid_grant"; unknown or
 *   already exchanged user_code → 400 "invalid_grant"; past the deadline → 400 "expired_token";
 *   after deny() → 400 "access_denied"; wrong client → 401 "invalid_client";
 * - "pending" and "success" are HTTP 200;
 * - refresh tokens rotate by default (the old one dies; reuse → 401 invalid_grant: opencode treats
 *   any 4xx on refresh as a dead token). `rotateRefreshToken: false` answers the same refresh
 *   token again and keeps it usable;
 * - polling faster than `interval` is not punished (no slow_down is documented);
 * - there is no verification_uri_complete, so verification_uri carries `?user_code=…` itself;
 *   user codes are random per request (the poll is keyed by user_code, so they must be unique).
 *
 * `options.state` makes /oauth2/device/code echo a wrong state or none, for the client's state check.
 */
import {
  bareHtmlPage,
  deviceDecisions,
  formBody,
  hex,
  isForm,
  isS256Challenge,
  requireClient,
  requireForm,
  s256,
  serveFake,
  unsupportedGrant,
  type DeviceState,
  type RecordedRequest,
} from "./_kit.ts";

export const MINIMAX_CLIENT_ID = "d38bdbee-2b8c-4c74-9a9c-5875fabe6317";
export const MINIMAX_SCOPE = "openid profile coding_plan";
export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

export interface MiniMaxFakeOptions {
  clientId?: string;
  /** ms from /oauth2/device/code until the deadline sent as expired_in (default 600 000; 0 = already expired) */
  expiresInMs?: number;
  /** ms sent as `interval` (default 2000) */
  intervalMs?: number;
  /** ms an access token lives; the token answer's expired_in = now + this (default 3 600 000) */
  accessTokenTtlMs?: number;
  /** resource_url in the token answer (default `${http.url}/anthropic`); null omits it */
  resourceUrl?: string | null;
  /** what /oauth2/device/code does with `state`: "echo" (default), "wrong" (a different value), "missing" */
  state?: "echo" | "wrong" | "missing";
  /** default true */
  rotateRefreshToken?: boolean;
  /** "status" (default): {status: "success", …}; "base_resp": MiniMax's envelope without `status`. */
  envelope?: "status" | "base_resp";
}

export interface MiniMaxFakeRequest
  extends RecordedRequest<Record<string, string>, "contentType" | "headers"> {}

export interface MiniMaxFake {
  url: string;
  options: MiniMaxFakeOptions;
  requests: MiniMaxFakeRequest[];
  counts: { code: number; poll: number; refresh: number };
  issued: { accessTokens: string[]; refreshTokens: string[] };
  approve(userCode: string): void;
  deny(userCode: string): void;
  stop(): void;
}

interface DeviceRecord {
  userCode: string;
  challenge: string;
  deadline: number;
  state: DeviceState;
}

function fail(status: number, error: string, description: string): Response {
  return Response.json({ status: "error", error, error_description: description }, { status });
}

export function startMiniMaxFake(initial: MiniMaxFakeOptions = {}): MiniMaxFake {
  const options: MiniMaxFakeOptions = { ...initial };
  const requests: MiniMaxFakeRequest[] = [];
  const counts = { code: 0, poll: 0, refresh: 0 };
  const issued = { accessTokens: [] as string[], refreshTokens: [] as string[] };
  /** by user_code: the poll carries no device_code */
  const devices = new Map<string, DeviceRecord>();
  const refreshTokens = new Map<string, boolean>();

  function success(refreshToken?: string): Response {
    const accessToken = `mm-at-${hex(16)}`;
    issued.accessTokens.push(accessToken);
    if (refreshToken === undefined) {
      refreshToken = `mm-rt-${hex(16)}`;
      issued.refreshTokens.push(refreshToken);
      refreshTokens.set(refreshToken, true);
    }
    const resourceUrl = options.resourceUrl === undefined ? `${http.url}/anthropic` : options.resourceUrl;
    const envelope =
      options.envelope === "base_resp"
        ? { base_resp: { status_code: 0, status_msg: "success" } }
        : { status: "success" };
    return Response.json({
      ...envelope,
      access_token: accessToken,
      refresh_token: refreshToken,
      expired_in: Date.now() + (options.accessTokenTtlMs ?? 3_600_000),
      ...(resourceUrl === null ? {} : { resource_url: resourceUrl }),
    });
  }

  function code(body: Record<string, string>): Response {
    if (!body.scope) return fail(400, "invalid_request", "scope is required");
    if (body.code_challenge_method !== "S256" || !isS256Challenge(body.code_challenge)) {
      return fail(400, "invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256");
    }
    if (!body.state) return fail(400, "invalid_request", "state is required");
    const userCode = `${hex(3).toUpperCase()}-${hex(3).toUpperCase()}`;
    const deadline = Date.now() + (options.expiresInMs ?? 600_000);
    devices.set(userCode, { userCode, challenge: body.code_challenge!, deadline, state: "pending" });
    const mode = options.state ?? "echo";
    return Response.json({
      verification_uri: `${http.url}/device?user_code=${userCode}`,
      user_code: userCode,
      expired_in: deadline,
      interval: options.intervalMs ?? 2000,
      ...(mode === "missing" ? {} : { state: mode === "wrong" ? `wrong-${hex(8)}` : body.state }),
    });
  }

  function poll(body: Record<string, string>): Response {
    const device = body.user_code === undefined ? undefined : devices.get(body.user_code);
    if (!device || device.state === "used") return fail(400, "invalid_grant", "user_code is invalid");
    if (s256(body.code_verifier ?? "") !== device.challenge)
      return fail(400, "invalid_grant", "code_verifier does not match code_challenge");
    if (Date.now() >= device.deadline) return fail(400, "expired_token", "the user code has expired");
    if (device.state === "denied") return fail(400, "access_denied", "the user denied the request");
    if (device.state === "pending") return Response.json({ status: "pending" });
    device.state = "used";
    return success();
  }

  function refresh(body: Record<string, string>): Response {
    const token = body.refresh_token;
    if (token === undefined || refreshTokens.get(token) !== true) {
      return fail(401, "invalid_grant", "refresh token is invalid or was already used");
    }
    if (options.rotateRefreshToken ?? true) {
      refreshTokens.set(token, false);
      return success();
    }
    return success(token);
  }

  /** Both POST endpoints: a form and the client; then the endpoint itself. */
  const checked = (contentType: string | null, body: Record<string, string>, endpoint: () => Response) =>
    requireForm(contentType, fail) ??
    requireClient(body.client_id, options.clientId ?? MINIMAX_CLIENT_ID, fail) ??
    endpoint();

  const http = serveFake({
    body: (raw, contentType) => (isForm(contentType) ? formBody(raw) : {}),
    record: { into: requests, fields: ["method", "path", "contentType", "body", "headers", "at"] },
    routes: {
      "GET /device": () => bareHtmlPage("MiniMax login"),
      "POST /oauth2/device/code": ({ contentType, body }) => {
        counts.code += 1;
        return checked(contentType, body, () => code(body));
      },
      "POST /oauth2/token": ({ contentType, body }) => {
        if (body.grant_type === "refresh_token") counts.refresh += 1;
        else if (body.grant_type === DEVICE_CODE_GRANT) counts.poll += 1;
        return checked(contentType, body, () => {
          if (body.grant_type === DEVICE_CODE_GRANT) return poll(body);
          if (body.grant_type === "refresh_token") return refresh(body);
          return unsupportedGrant(body.grant_type, fail);
        });
      },
    },
    notFound: () => Response.json({ status: "error", error: "not_found" }, { status: 404 }),
  });

  return {
    url: http.url,
    options,
    requests,
    counts,
    issued,
    // by user_code, which is unique, so the first pending match is the only one
    ...deviceDecisions(devices, (userCode) => `minimax fake: no pending user code ${userCode}`),
    stop: http.stop,
  };
}
