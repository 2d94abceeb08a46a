/**
 * The device authorization grant (RFC 8628): the device authorization request (§3.1–3.2), the
 * device access token request (§3.4) and polling it until the person approves (§3.5).
 */
import type { HttpClient } from "../deps.ts";
import { AuthctlError } from "../errors.ts";
import { registerSecret } from "../redact.ts";
import { assertSecureEndpoint, isSecureEndpoint } from "./endpoints.ts";
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
  oauthErrorIn,
  optionalSeconds,
  optionalUrl,
  readJsonObject,
  requireSeconds,
  requireString,
} from "./_response.ts";
import type { Pkce } from "./pkce.ts";
import { parseTokenSet, type TokenSet } from "./token.ts";

const DEVICE_WHAT = "device authorization endpoint";
const TOKEN_WHAT = "token endpoint";
export const DEVICE_CODE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code";
/** RFC 8628 §3.2: "If no value is provided, clients MUST use 5 as the default." */
export const DEFAULT_DEVICE_INTERVAL_SECONDS = 5;
/** RFC 8628 §3.5: on slow_down "the interval MUST be increased by 5 seconds". */
const SLOW_DOWN_STEP_MS = 5_000;

export interface DeviceAuthorizationInput extends HttpOptions {
  url: string | URL;
  clientId: string;
  /** Confidential clients authenticate here too (RFC 8628 §3.1 refers to RFC 6749 §2.3). */
  clientSecret?: string;
  clientAuth?: ClientAuthMethod;
  scopes?: readonly string[];
  /** Qwen and MiniMax add PKCE to the device flow. */
  pkce?: Pick<Pkce, "challenge" | "method">;
  body: BodyEncoding;
  extra?: Record<string, string>;
}

export interface DeviceAuthorization {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete?: string;
  expires_in: number;
  /** Seconds between polls. */
  interval: number;
  /** Epoch ms after which the device code is dead. */
  expires_at: number;
  raw: Record<string, unknown>;
}

export async function deviceAuthorizationRequest(
  http: HttpClient,
  input: DeviceAuthorizationInput,
): Promise<Response> {
  const url = assertSecureEndpoint(input.url, DEVICE_WHAT);
  const core = {
    client_id: input.clientId,
    client_secret: input.clientSecret,
    scope: input.scopes && input.scopes.length > 0 ? input.scopes.join(" ") : undefined,
    code_challenge: input.pkce?.challenge,
    code_challenge_method: input.pkce?.method,
  };
  const auth = applyClientAuth(
    withExtraParams(core, input.extra, "device authorization"),
    input.clientAuth,
    input.headers,
  );
  return postRequest(http, url, DEVICE_WHAT, auth.params, input.body, { ...input, headers: auth.headers });
}

export async function processDeviceAuthorizationResponse(
  response: Response,
  options: { now: number },
): Promise<DeviceAuthorization> {
  const json = await readJsonObject(response, DEVICE_WHAT);
  const oauthError = oauthErrorIn(json, response.status, DEVICE_WHAT);
  if (oauthError) throw oauthError;
  assertSuccessStatus(json, response.status, [200, 201], DEVICE_WHAT);
  const device_code = requireString(json, "device_code", DEVICE_WHAT);
  registerSecret(device_code);
  const user_code = requireString(json, "user_code", DEVICE_WHAT);
  // Google and some other servers spell it verification_url (the name from an early draft).
  const uri = json.verification_uri;
  const key = uri === undefined || uri === null ? "verification_url" : "verification_uri";
  const verification_uri = optionalUrl(json, key, DEVICE_WHAT, isSecureEndpoint);
  if (verification_uri === undefined) {
    throw new AuthctlError("PROTOCOL", `${DEVICE_WHAT} answered without "verification_uri"`);
  }
  const complete = optionalUrl(json, "verification_uri_complete", DEVICE_WHAT, isSecureEndpoint);
  const expires_in = requireSeconds(json, "expires_in", DEVICE_WHAT);
  // `interval: 0` is not an instruction to poll without pause: treat it as absent (RFC 8628 §3.2's
  // default of 5 s) rather than refusing a login the server otherwise answered correctly.
  const sentInterval =
    json.interval === 0 || json.interval === "0" ? undefined : optionalSeconds(json, "interval", DEVICE_WHAT);
  const interval = sentInterval ?? DEFAULT_DEVICE_INTERVAL_SECONDS;
  const result: DeviceAuthorization = {
    device_code,
    user_code,
    verification_uri,
    expires_in,
    interval,
    expires_at: options.now + Math.round(expires_in * 1000),
    raw: json,
  };
  if (complete !== undefined) result.verification_uri_complete = complete;
  return result;
}

export interface DeviceTokenInput extends HttpOptions {
  tokenUrl: string | URL;
  clientId: string;
  clientSecret?: string;
  clientAuth?: ClientAuthMethod;
  deviceCode: string;
  codeVerifier?: string;
  body: BodyEncoding;
  extra?: Record<string, string>;
}

export async function deviceTokenRequest(http: HttpClient, input: DeviceTokenInput): Promise<Response> {
  const url = assertSecureEndpoint(input.tokenUrl, TOKEN_WHAT);
  const core = {
    grant_type: DEVICE_CODE_GRANT_TYPE,
    device_code: input.deviceCode,
    client_id: input.clientId,
    client_secret: input.clientSecret,
    code_verifier: input.codeVerifier,
  };
  const auth = applyClientAuth(
    withExtraParams(core, input.extra, "device token"),
    input.clientAuth,
    input.headers,
  );
  return postRequest(http, url, TOKEN_WHAT, auth.params, input.body, { ...input, headers: auth.headers });
}

/**
 * What one poll answered. A provider's `classify` hook maps its quirks onto this (Qwen's HTTP 429
 * for slow_down, MiniMax's `status: "pending"`), usually by wrapping `classifyDeviceTokenResponse`.
 * A hook may also throw an AuthctlError directly.
 */
export type DevicePollOutcome =
  | { kind: "pending" }
  /** `interval`: the new interval in seconds, when the server sent one (GitHub does). */
  | { kind: "slow_down"; interval?: number }
  | { kind: "token"; token: TokenSet }
  | { kind: "expired" }
  | { kind: "denied" }
  | { kind: "error"; error: Error };

/**
 * The RFC 8628 §3.5 reading of a poll answer. Errors are recognised whatever the HTTP status:
 * the RFC says 400, GitHub answers 200.
 */
export async function classifyDeviceTokenResponse(
  response: Response,
  options: { now: number },
): Promise<DevicePollOutcome> {
  const json = await readJsonObject(response, TOKEN_WHAT);
  switch (json.error) {
    case "authorization_pending":
      return { kind: "pending" };
    case "slow_down": {
      const interval = serverInterval(json);
      return interval === undefined ? { kind: "slow_down" } : { kind: "slow_down", interval };
    }
    case "expired_token":
      return { kind: "expired" };
    case "access_denied":
      return { kind: "denied" };
  }
  const oauthError = oauthErrorIn(json, response.status, TOKEN_WHAT);
  if (oauthError) return { kind: "error", error: oauthError };
  assertSuccessStatus(json, response.status, [200, 201], TOKEN_WHAT);
  return { kind: "token", token: parseTokenSet(json, options.now, TOKEN_WHAT) };
}

/** A malformed interval on slow_down is only a hint gone wrong: fall back to the +5 s rule. */
function serverInterval(json: Record<string, unknown>): number | undefined {
  try {
    return optionalSeconds(json, "interval", TOKEN_WHAT);
  } catch {
    return undefined;
  }
}

export interface DevicePollEvent {
  /** 1 for the first poll. */
  attempt: number;
  outcome: DevicePollOutcome["kind"];
  /** Seconds that will pass before the next poll. */
  interval: number;
}

export interface PollDeviceTokenOptions {
  /** Sends one device token request; receives the abort signal. */
  request: (signal?: AbortSignal) => Promise<Response>;
  /** Seconds, from the device authorization answer. */
  interval: number;
  /** Epoch ms, from the device authorization answer. */
  expiresAt: number;
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  onPoll?: (event: DevicePollEvent) => void;
  /** Default: `classifyDeviceTokenResponse` with the current time. */
  classify?: (response: Response) => Promise<DevicePollOutcome>;
}

/**
 * Polls until the person approves, refuses, or the device code runs out. The full interval is
 * waited before every poll, the first included, and each wait starts after the previous answer
 * arrived, so the server never sees two polls closer than the interval (RFC 8628 §3.5).
 */
export async function pollDeviceToken(options: PollDeviceTokenOptions): Promise<TokenSet> {
  const { request, now, sleep, signal, onPoll } = options;
  const classify =
    options.classify ?? ((response: Response) => classifyDeviceTokenResponse(response, { now: now() }));
  const valid = Number.isFinite(options.interval) && options.interval > 0;
  let intervalMs = Math.round((valid ? options.interval : DEFAULT_DEVICE_INTERVAL_SECONDS) * 1000);

  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw cancelled();
    if (now() >= options.expiresAt) throw timedOut();
    // Never sleep past the code's expiry: a slow_down storm would otherwise keep the user
    // waiting long after the code is dead.
    await whileListening(signal, () =>
      sleep(Math.min(intervalMs, Math.max(0, options.expiresAt - now())), signal),
    );
    if (now() >= options.expiresAt) throw timedOut();

    const outcome = await classify(await whileListening(signal, () => request(signal)));
    if (outcome.kind === "slow_down") {
      // The RFC's +5 s is a floor: a server-sent interval is honoured when it asks for more,
      // never used to poll faster than the rule allows.
      const sent = outcome.interval === undefined ? 0 : Math.round(outcome.interval * 1000);
      intervalMs = Math.max(intervalMs + SLOW_DOWN_STEP_MS, sent);
    }
    onPoll?.({ attempt, outcome: outcome.kind, interval: intervalMs / 1000 });
    switch (outcome.kind) {
      case "pending":
      case "slow_down":
        continue;
      case "token":
        return outcome.token;
      case "expired":
        throw new AuthctlError(
          "AUTH_FAILED",
          "the device code expired before it was approved; run the login again",
        );
      case "denied":
        throw new AuthctlError("AUTH_FAILED", "the login was denied in the browser");
      case "error":
        throw outcome.error;
    }
  }
}

/** Runs `step`; once the signal has fired, whatever the step did becomes one CANCELLED error. */
async function whileListening<T>(signal: AbortSignal | undefined, step: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await step();
  } catch (error) {
    if (signal?.aborted) throw abortReason(signal, error);
    throw error;
  }
  if (signal?.aborted) throw abortReason(signal);
  return result;
}

/** A caller that aborted with its own AuthctlError (a --timeout deadline) keeps its message. */
function abortReason(signal: AbortSignal, cause?: unknown): AuthctlError {
  return signal.reason instanceof AuthctlError ? signal.reason : cancelled(cause);
}

function cancelled(cause?: unknown): AuthctlError {
  return new AuthctlError("CANCELLED", "the login was cancelled", { cause });
}

/** An expired device code is an authentication outcome like a denial (exit 4), not a local fault. */
function timedOut(): AuthctlError {
  return new AuthctlError(
    "AUTH_FAILED",
    "the login was not approved before the device code expired; run the login again",
  );
}
