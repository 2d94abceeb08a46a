/**
 * Anthropic Console's create_api_key as a request/process pair (providers.md §3 "Console → API
 * key": Claude Code's API_KEY_URL). The token endpoint itself is the standard exchange with a JSON
 * body (oauth/token.ts). Loaded only by `authctl login anthropic --method console`.
 */
import type { HttpClient } from "../deps.ts";
import { AuthctlError, HttpError } from "../errors.ts";
import { isTokenText, sendRequest } from "../oauth/index.ts";
import { registerSecret } from "../redact.ts";
import { readJsonLenient, serverMessage } from "./_endpoint.ts";

const WHAT = "Anthropic API key endpoint";
const HINT = "your account may lack permission to create keys; use 'authctl login anthropic --method key'";

/** POST {} to <api_url>/api/oauth/claude_cli/create_api_key with the console login's access token. */
export function createApiKeyRequest(
  http: HttpClient,
  input: { apiUrl: string; accessToken: string; signal?: AbortSignal },
): Promise<Response> {
  const url = `${input.apiUrl.replace(/\/+$/, "")}/api/oauth/claude_cli/create_api_key`;
  return sendRequest(
    http,
    url,
    WHAT,
    {
      method: "POST",
      body: "{}",
      contentType: "application/json",
      headers: { authorization: `Bearer ${input.accessToken}` },
    },
    { signal: input.signal },
  );
}

/** 200 with a non-empty `raw_key`; anything else means no key was made, in Anthropic's words when it gave some. */
export async function processCreateApiKeyResponse(response: Response): Promise<string> {
  const json = await readJsonLenient(response);
  if (!response.ok || typeof json.raw_key !== "string" || json.raw_key === "") {
    const message = serverMessage(json) ?? `HTTP ${response.status}`;
    throw new HttpError(
      "AUTH_FAILED",
      `Anthropic did not create an API key (${message})`,
      { status: response.status, data: json },
      { hint: HINT },
    );
  }
  registerSecret(json.raw_key);
  if (!isTokenText(json.raw_key))
    throw new AuthctlError(
      "PROTOCOL",
      "Anthropic created an API key that is not printable ASCII; it was not stored",
      { hint: HINT },
    );
  return json.raw_key;
}
