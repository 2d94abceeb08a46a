/**
 * OpenRouter's code-for-key exchange as a request/process pair (providers.md §2;
 * https://openrouter.ai/docs/api/api-reference/o-auth/exchange-auth-code-for-api-key). Loaded
 * only by `authctl login openrouter`.
 */
import type { HttpClient } from "../deps.ts";
import { AuthctlError, HttpError } from "../errors.ts";
import { isTokenText, sendRequest } from "../oauth/index.ts";
import { registerSecret } from "../redact.ts";
import { readJsonLenient, serverMessage } from "./_endpoint.ts";

const WHAT = "OpenRouter key exchange";
export const KEY_EXCHANGE_TIMEOUT_MS = 30_000;

export interface KeyExchangeInput {
  url: string;
  code: string;
  verifier: string;
  signal?: AbortSignal;
}

/** POST {code, code_verifier, code_challenge_method} as JSON: the documented body, nothing more. */
export function keyExchangeRequest(http: HttpClient, input: KeyExchangeInput): Promise<Response> {
  registerSecret(input.code);
  registerSecret(input.verifier);
  const body = JSON.stringify({
    code: input.code,
    code_verifier: input.verifier,
    code_challenge_method: "S256",
  });
  return sendRequest(
    http,
    input.url,
    WHAT,
    { method: "POST", body, contentType: "application/json" },
    { timeoutMs: KEY_EXCHANGE_TIMEOUT_MS, signal: input.signal },
  );
}

/**
 * 200 with a non-empty `key` (and maybe `user_id`). Any other status is OpenRouter refusing
 * (providers.md §2: 400 method mismatch, 403 bad code or verifier), in its own words when the
 * body has them; an HTML error page is named by its status only.
 */
export async function processKeyExchangeResponse(
  response: Response,
): Promise<{ key: string; userId?: string }> {
  const json = await readJsonLenient(response);
  if (!response.ok) {
    const message = serverMessage(json) ?? `HTTP ${response.status}`;
    throw new HttpError(
      "AUTH_FAILED",
      `OpenRouter refused the key exchange (HTTP ${response.status}: ${message})`,
      { status: response.status, data: json },
      { hint: "run 'authctl login openrouter' again" },
    );
  }
  if (typeof json.key !== "string" || json.key === "") {
    throw new AuthctlError(
      "PROTOCOL",
      `OpenRouter's key exchange answered HTTP ${response.status} without a key`,
    );
  }
  if (!isTokenText(json.key))
    throw new AuthctlError(
      "PROTOCOL",
      "OpenRouter's key exchange answered a key that is not printable ASCII; nothing was stored",
    );
  registerSecret(json.key);
  // `user_id` only labels the login in `status`: anything but a string is left out, not refused.
  return {
    key: json.key,
    userId: typeof json.user_id === "string" && json.user_id ? json.user_id : undefined,
  };
}
