/**
 * OpenAI's hand-rolled endpoints as request/process pairs, loaded only by `authctl login openai`:
 * - the device variant (openai/codex codex-rs/login/src/device_code_auth.rs), not RFC 8628 on the
 *   wire: POST {client_id} as JSON to …/deviceauth/usercode, then poll …/deviceauth/token with
 *   {device_auth_id, user_code} until it answers an authorization code and the verifier;
 * - the token-exchange grant that turns the ID token into a platform API key
 *   (openai/codex server.rs obtain_api_key).
 * Every request goes through the HTTP client: the secure-endpoint check, a timeout, no retries.
 */
import type { HttpClient } from "../deps.ts";
import { AuthctlError, HttpError } from "../errors.ts";
import type { DevicePollOutcome } from "../oauth/device.ts";
import {
  encodeBody,
  oauthErrorIn,
  readJsonObject,
  requireString,
  requireToken,
  sendRequest,
  type JsonObject,
} from "../oauth/index.ts";
import { registerSecret } from "../redact.ts";
import { readJsonLenient } from "./_endpoint.ts";

const DEVICE_WHAT = "OpenAI device login";
const EXCHANGE_WHAT = "OpenAI API key exchange";
/** Codex waits 5 s between polls when the server names no interval (device_code_auth.rs). */
const DEFAULT_INTERVAL_S = 5;
/** Best effort, as in Codex: a slow token endpoint must not hold up a login that already worked. */
export const API_KEY_EXCHANGE_TIMEOUT_MS = 20_000;

function postJson(
  http: HttpClient,
  url: string,
  what: string,
  body: JsonObject,
  signal?: AbortSignal,
): Promise<Response> {
  return sendRequest(
    http,
    url,
    what,
    { method: "POST", body: JSON.stringify(body), contentType: "application/json" },
    { signal },
  );
}

export function deviceUserCodeRequest(
  http: HttpClient,
  input: { url: string; clientId: string | undefined; signal?: AbortSignal },
): Promise<Response> {
  return postJson(http, input.url, DEVICE_WHAT, { client_id: input.clientId }, input.signal);
}

export interface OpenAIDeviceCode {
  deviceAuthId: string;
  userCode: string;
  /** Seconds. */
  interval: number;
}

/**
 * 200 with `device_auth_id` and `user_code` (older servers: `usercode`); `interval` in seconds,
 * possibly as a string. 404 means device login is off for this account (Codex says the same).
 */
export async function processDeviceUserCodeResponse(response: Response): Promise<OpenAIDeviceCode> {
  if (response.status === 404) {
    await response.body?.cancel().catch(() => {});
    throw new AuthctlError("AUTH_FAILED", "device-code login is not enabled for this ChatGPT account", {
      hint: "enable it in ChatGPT's security settings, or run 'authctl login openai' without --device",
    });
  }
  const json = await readJsonLenient(response);
  const userCode = json.user_code ?? json.usercode;
  if (
    !response.ok ||
    typeof json.device_auth_id !== "string" ||
    json.device_auth_id === "" ||
    typeof userCode !== "string" ||
    userCode === ""
  ) {
    throw new HttpError(
      "PROTOCOL",
      `OpenAI's device login answered HTTP ${response.status} without a user code`,
      { status: response.status, data: json },
    );
  }
  registerSecret(json.device_auth_id);
  const interval = Number(json.interval);
  return {
    deviceAuthId: json.device_auth_id,
    userCode,
    interval: Number.isFinite(interval) && interval > 0 ? interval : DEFAULT_INTERVAL_S,
  };
}

/** The poll goes to the sibling …/deviceauth/token of the user-code URL. */
export function deviceTokenPollRequest(
  http: HttpClient,
  input: { usercodeUrl: string; deviceAuthId: string; userCode: string; signal?: AbortSignal },
): Promise<Response> {
  const url = input.usercodeUrl.replace(/usercode$/, "token");
  return postJson(
    http,
    url,
    DEVICE_WHAT,
    { device_auth_id: input.deviceAuthId, user_code: input.userCode },
    input.signal,
  );
}

/**
 * 403/404 while the user has not approved yet; 200 with `authorization_code` and `code_verifier`
 * once they have (not tokens yet: the standard exchange step trades them); Codex's
 * `deviceauth_authorization_pending` and RFC 8628 `slow_down` in an error body.
 */
export async function processDeviceTokenPollResponse(response: Response): Promise<DevicePollOutcome> {
  if (response.status === 403 || response.status === 404) {
    await response.body?.cancel().catch(() => {});
    return { kind: "pending" };
  }
  const body = await readJsonLenient(response);
  if (
    response.ok &&
    typeof body.authorization_code === "string" &&
    body.authorization_code !== "" &&
    typeof body.code_verifier === "string" &&
    body.code_verifier !== ""
  ) {
    registerSecret(body.authorization_code);
    registerSecret(body.code_verifier);
    return {
      kind: "token",
      token: { access_token: body.authorization_code, token_type: "Bearer", raw: body },
    };
  }
  if (body.error === "deviceauth_authorization_pending") return { kind: "pending" };
  if (body.error === "slow_down") return { kind: "slow_down" };
  return {
    kind: "error",
    error: new HttpError("PROTOCOL", `OpenAI's device login answered HTTP ${response.status}`, {
      status: response.status,
      data: body,
    }),
  };
}

/** The token-exchange grant (RFC 8693) for an `openai-api-key`, form-encoded as Codex sends it. */
export function apiKeyExchangeRequest(
  http: HttpClient,
  input: { tokenUrl: string; clientId: string; idToken: string; signal?: AbortSignal },
): Promise<Response> {
  registerSecret(input.idToken);
  const { body, contentType } = encodeBody(
    {
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      client_id: input.clientId,
      requested_token: "openai-api-key",
      subject_token: input.idToken,
      subject_token_type: "urn:ietf:params:oauth:token-type:id_token",
    },
    "form",
  );
  return sendRequest(
    http,
    input.tokenUrl,
    EXCHANGE_WHAT,
    { method: "POST", body, contentType },
    { timeoutMs: API_KEY_EXCHANGE_TIMEOUT_MS, signal: input.signal },
  );
}

/** 200 with a non-empty `access_token` (the API key); an OAuth error or any other status is thrown. */
export async function processApiKeyExchangeResponse(response: Response): Promise<string> {
  const json = await readJsonObject(response, EXCHANGE_WHAT);
  const refused = oauthErrorIn(json, response.status, EXCHANGE_WHAT);
  if (refused) throw refused;
  if (response.status !== 200) {
    throw new HttpError("PROTOCOL", `${EXCHANGE_WHAT} answered HTTP ${response.status}`, {
      status: response.status,
      data: json,
    });
  }
  const key = requireToken(json, "access_token", EXCHANGE_WHAT);
  registerSecret(key);
  return key;
}
