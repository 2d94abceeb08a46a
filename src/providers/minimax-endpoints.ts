/**
 * MiniMax's device flow as request/process pairs (anomalyco/opencode
 * packages/opencode/src/plugin/minimax/minimax.ts; see minimax.ts for the wire shapes), loaded
 * only by `authctl login minimax`. Both requests go through the HTTP client: the secure-endpoint
 * check and a timeout, which the hand-rolled start lacked; never retried (each poll spends the
 * user code once more only on the next interval).
 */
import type { HttpClient } from "../deps.ts";
import { AuthctlError, HttpError, OAuthError } from "../errors.ts";
import type { DevicePollOutcome } from "../oauth/device.ts";
import { encodeBody, isSecureEndpoint, sendRequest } from "../oauth/index.ts";
import { registerSecret } from "../redact.ts";
import { readJsonLenient } from "./_endpoint.ts";
import { minimaxDeadline, readEnvelope, tokensFrom } from "./minimax-answers.ts";

const DEVICE_WHAT = "MiniMax device authorization";
const TOKEN_WHAT = "MiniMax token endpoint";
/** opencode: `data.interval ?? 5000` milliseconds. */
const DEFAULT_INTERVAL_MS = 5_000;
/** When MiniMax names no deadline: RFC 8628's common 10 minutes. */
const DEFAULT_LIFETIME_MS = 10 * 60_000;

function postForm(
  http: HttpClient,
  url: string,
  what: string,
  params: Record<string, string>,
  signal?: AbortSignal,
): Promise<Response> {
  const { body, contentType } = encodeBody(params, "form");
  return sendRequest(http, url, what, { method: "POST", body, contentType }, { signal });
}

export interface MiniMaxDeviceInput {
  url: string;
  clientId: string;
  scopes: string[];
  codeChallenge: string;
  state: string;
  signal?: AbortSignal;
}

export function deviceCodeRequest(http: HttpClient, input: MiniMaxDeviceInput): Promise<Response> {
  return postForm(
    http,
    input.url,
    DEVICE_WHAT,
    {
      client_id: input.clientId,
      scope: input.scopes.join(" "),
      code_challenge: input.codeChallenge,
      code_challenge_method: "S256",
      state: input.state,
    },
    input.signal,
  );
}

export interface MiniMaxDeviceCode {
  userCode: string;
  verificationUri: string;
  /** Epoch ms. */
  expiresAt: number;
  /** Seconds. */
  interval: number;
}

/**
 * 200 with `user_code`, an https (or loopback) `verification_uri`, the echoed `state` (a
 * different one means the answer belongs to another login), `expired_in` (a deadline, see
 * minimaxDeadline) and `interval` in milliseconds.
 */
export async function processDeviceCodeResponse(
  response: Response,
  expected: { state: string; now: number },
): Promise<MiniMaxDeviceCode> {
  const json = await readJsonLenient(response);
  if (
    !response.ok ||
    typeof json.user_code !== "string" ||
    json.user_code === "" ||
    typeof json.verification_uri !== "string"
  ) {
    throw new HttpError(
      "PROTOCOL",
      `MiniMax's device authorization answered HTTP ${response.status} without a user code`,
      { status: response.status, data: json },
    );
  }
  if (json.state !== expected.state) {
    throw new AuthctlError(
      "AUTH_FAILED",
      "MiniMax echoed a different state: this answer does not belong to this login",
    );
  }
  // The person is sent there to approve: never to a plain-http page off this machine.
  if (!isSecureEndpoint(json.verification_uri)) {
    throw new AuthctlError(
      "PROTOCOL",
      `MiniMax's device authorization answered an invalid "verification_uri" (expected an https URL)`,
    );
  }
  const intervalMs = Number(json.interval);
  return {
    userCode: json.user_code,
    verificationUri: json.verification_uri,
    expiresAt: minimaxDeadline(json.expired_in, expected.now) ?? expected.now + DEFAULT_LIFETIME_MS,
    interval: (Number.isFinite(intervalMs) && intervalMs > 0 ? intervalMs : DEFAULT_INTERVAL_MS) / 1000,
  };
}

/** opencode's current plugin: the RFC 8628 grant URN, keyed by user_code (no device_code). */
export function devicePollRequest(
  http: HttpClient,
  input: { url: string; clientId: string; userCode: string; codeVerifier: string; signal?: AbortSignal },
): Promise<Response> {
  registerSecret(input.codeVerifier);
  return postForm(
    http,
    input.url,
    TOKEN_WHAT,
    {
      grant_type: "urn:ietf:params:oauth:grant-type:device_code",
      client_id: input.clientId,
      user_code: input.userCode,
      code_verifier: input.codeVerifier,
    },
    input.signal,
  );
}

/**
 * RFC 8628 `expired_token` / `access_denied` in any answer; otherwise `status` or the base_resp
 * envelope of a 2xx decides (pending, success with tokens, or MiniMax's error message).
 */
export async function processDevicePollResponse(response: Response, now: number): Promise<DevicePollOutcome> {
  const body = await readJsonLenient(response);
  const error = typeof body.error === "string" ? body.error : undefined;
  if (error === "expired_token") return { kind: "expired" };
  if (error === "access_denied") return { kind: "denied" };
  const envelope = response.ok
    ? readEnvelope(body)
    : { kind: "error" as const, message: error ?? `HTTP ${response.status}` };
  if (envelope.kind === "pending") return { kind: "pending" };
  if (envelope.kind === "success") return { kind: "token", token: tokensFrom(body, now) };
  return {
    kind: "error",
    error: new OAuthError(`MiniMax refused the login: ${envelope.message}`, {
      error: error ?? envelope.message,
      status: response.status,
    }),
  };
}
