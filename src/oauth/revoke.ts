/**
 * Token revocation (RFC 7009). The request is always form-encoded (§2.1). A 200 means revoked,
 * and also "that token was already invalid" (§2.2), so the body is ignored.
 */
import type { HttpClient } from "../deps.ts";
import { assertSecureEndpoint } from "./endpoints.ts";
import {
  applyClientAuth,
  type BodyEncoding,
  type ClientAuthMethod,
  type HttpOptions,
  postRequest,
} from "./_http.ts";
import { oauthErrorIn, readJsonObject, unexpectedStatus } from "./_response.ts";

const WHAT = "revocation endpoint";

export interface RevocationInput extends HttpOptions {
  url: string | URL;
  clientId?: string;
  /** Only for installed-app clients that ship one (client_secret_post). */
  clientSecret?: string;
  clientAuth?: ClientAuthMethod;
  token: string;
  tokenTypeHint?: "access_token" | "refresh_token";
  /** RFC 7009 §2.1 says form (the default); OpenAI's endpoint takes JSON (openai/codex codex-rs/login/src/auth/revoke.rs). */
  body?: BodyEncoding;
}

export type RevocationResult =
  | { status: "revoked" }
  /** RFC 7009 §2.2.1: 503 means "try again later"; Retry-After in seconds when the server sent it. */
  | { status: "unavailable"; retryAfterSeconds?: number };

export async function revocationRequest(http: HttpClient, input: RevocationInput): Promise<Response> {
  const url = assertSecureEndpoint(input.url, WHAT);
  const params = {
    token: input.token,
    token_type_hint: input.tokenTypeHint,
    client_id: input.clientId,
    client_secret: input.clientSecret,
  };
  const auth = applyClientAuth(params, input.clientAuth, input.headers);
  return postRequest(http, url, WHAT, auth.params, input.body ?? "form", {
    ...input,
    headers: auth.headers,
  });
}

/**
 * Any 2xx counts as revoked (the RFC says 200; some servers answer 204). 503 is reported as
 * unavailable for the caller to decide; everything else is an OAUTH or PROTOCOL error.
 */
export async function processRevocationResponse(response: Response): Promise<RevocationResult> {
  if (response.status >= 200 && response.status < 300) {
    await response.body?.cancel().catch(() => {});
    return { status: "revoked" };
  }
  if (response.status === 503) {
    await response.body?.cancel().catch(() => {});
    const retryAfter = response.headers.get("retry-after");
    const seconds = retryAfter !== null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : undefined;
    return seconds === undefined
      ? { status: "unavailable" }
      : { status: "unavailable", retryAfterSeconds: seconds };
  }
  const json = await readJsonObject(response, WHAT);
  const oauthError = oauthErrorIn(json, response.status, WHAT);
  if (oauthError) throw oauthError;
  throw unexpectedStatus(json, response.status, WHAT);
}
