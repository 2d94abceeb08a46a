/**
 * Gemini Code Assist's setup calls as a request/process pair (google-gemini/gemini-cli
 * packages/core/src/code_assist/{setup.ts,server.ts}): `loadCodeAssist`, `onboardUser` and the
 * onboarding operation's GET, each answering a JSON object. Loaded only after a Gemini login.
 */
import type { HttpClient } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { type JsonObject, readJsonObject, sendRequest } from "../oauth/index.ts";
import { serverMessage } from "./_endpoint.ts";

const WHAT = "Code Assist API";
/** gemini-cli gives these calls no bound of its own; authctl gives each 20 s. */
export const CODE_ASSIST_TIMEOUT_MS = 20_000;

/**
 * A POST with a JSON body (`loadCodeAssist`, `onboardUser`), or a GET without one (the
 * operation). Only the GET is retried: onboardUser starts an operation, and loadCodeAssist is left
 * alone like it.
 */
export function codeAssistRequest(
  http: HttpClient,
  input: { url: string; accessToken: string; body?: JsonObject; signal?: AbortSignal },
): Promise<Response> {
  const get = input.body === undefined;
  return sendRequest(
    http,
    input.url,
    WHAT,
    {
      method: get ? "GET" : "POST",
      body: get ? undefined : JSON.stringify(input.body),
      contentType: get ? undefined : "application/json",
      headers: { authorization: `Bearer ${input.accessToken}` },
    },
    { timeoutMs: CODE_ASSIST_TIMEOUT_MS, signal: input.signal, retries: get ? 1 : 0 },
  );
}

/** A 2xx JSON object; any other status is an HttpError quoting Google's `error.message`. */
export async function processCodeAssistResponse(response: Response): Promise<JsonObject> {
  const json = await readJsonObject(response, WHAT);
  if (response.status < 200 || response.status > 299) {
    const message = serverMessage(json);
    throw new HttpError(
      "PROTOCOL",
      `${WHAT} answered HTTP ${response.status}${message ? `: ${message}` : ""}`,
      { status: response.status, data: json },
    );
  }
  return json;
}
