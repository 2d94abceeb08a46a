/**
 * The typed wrapper over the HTTP client (deps.http, io/http.ts on ofetch) shared by every request
 * function in `oauth/` and every provider endpoint: the secure-endpoint check, `Accept:
 * application/json`, a timeout (DEFAULT_TIMEOUT_MS, on deps' clock), no redirects, retries only
 * for GETs, and fetch failures turned into NetworkErrors that name the host and port but never the
 * request body.
 */
import type { HttpClient } from "../deps.ts";
import { AuthctlError } from "../errors.ts";
import { registerSecret } from "../redact.ts";
import { assertSecureEndpoint } from "./endpoints.ts";

/** Request parameters that hold secrets (RFC 6749, 7009, 7636, 8628). */
const SECRET_PARAMS = [
  "code",
  "code_verifier",
  "refresh_token",
  "client_secret",
  "device_code",
  "token",
  "subject_token",
] as const;

export type BodyEncoding = "form" | "json";

/**
 * How long any request waits for its whole answer unless the caller says otherwise. The timer is
 * deps.sleep (io/http.ts), so a test's fake clock fires it.
 */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** Options every request function accepts. */
/**
 * How a confidential client sends its secret (RFC 6749 §2.3.1): in the body (the default here,
 * as installed apps do), or as HTTP Basic when the server lists only that method.
 */
export type ClientAuthMethod = "client_secret_post" | "client_secret_basic";

/**
 * Moves client_id/client_secret from the body into an Authorization header for
 * client_secret_basic; both halves are form-encoded first (RFC 6749 §2.3.1).
 */
export function applyClientAuth(
  params: Params,
  method: ClientAuthMethod | undefined,
  headers: Record<string, string> | undefined,
): { params: Params; headers?: Record<string, string> } {
  if (method !== "client_secret_basic" || params.client_secret === undefined) return { params, headers };
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, "+");
  const basic = Buffer.from(`${encode(params.client_id ?? "")}:${encode(params.client_secret)}`).toString(
    "base64",
  );
  const rest = { ...params, client_id: undefined, client_secret: undefined };
  return { params: rest, headers: { ...headers, Authorization: `Basic ${basic}` } };
}

export interface HttpOptions {
  /** Extra request headers for provider quirks (Kimi's `X-Msh-*`); they win over the defaults. */
  headers?: Record<string, string>;
  /** Gives up waiting for the server after this long (default DEFAULT_TIMEOUT_MS, on deps' clock). */
  timeoutMs?: number;
  /** Aborting it cancels the request with a CANCELLED error. */
  signal?: AbortSignal;
}

/** Request parameters; undefined values are left out of the body. */
export type Params = Record<string, string | undefined>;

/**
 * Adds provider-specific parameters after the standard ones. An extra parameter may not replace a
 * standard one: that would silently change the grant (or drop the PKCE verifier).
 */
export function withExtraParams(
  core: Params,
  extra: Record<string, string> | undefined,
  what: string,
): Params {
  if (!extra) return core;
  const out: Params = { ...core };
  for (const [key, value] of Object.entries(extra)) {
    if (Object.hasOwn(core, key)) {
      throw new AuthctlError("USAGE", `the extra ${what} parameter "${key}" would replace a standard one`);
    }
    out[key] = value;
  }
  return out;
}

/** The exact bytes sent for a body, and the Content-Type that describes them. */
export function encodeBody(params: Params, encoding: BodyEncoding): { body: string; contentType: string } {
  const defined = Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== undefined);
  if (encoding === "json") {
    return { body: JSON.stringify(Object.fromEntries(defined)), contentType: "application/json" };
  }
  return { body: new URLSearchParams(defined).toString(), contentType: "application/x-www-form-urlencoded" };
}

export async function postRequest(
  http: HttpClient,
  url: URL,
  what: string,
  params: Params,
  encoding: BodyEncoding,
  options: HttpOptions = {},
): Promise<Response> {
  // Every secret a request carries is known to the redactor before anything can echo it back
  // (servers quote request bodies in error descriptions; issue 13.9).
  for (const name of SECRET_PARAMS) registerSecret(params[name]);
  const { body, contentType } = encodeBody(params, encoding);
  return sendRequest(http, url, what, { method: "POST", body, contentType }, options);
}

/** A GET is idempotent: retried once after a network failure or a 408/429/5xx (io/http.ts). */
export async function getRequest(
  http: HttpClient,
  url: URL,
  what: string,
  options: HttpOptions = {},
): Promise<Response> {
  return sendRequest(http, url, what, { method: "GET" }, { retries: 1, ...options });
}

function buildHeaders(extra: Record<string, string> | undefined, contentType?: string): Headers {
  const headers = new Headers({ Accept: "application/json" });
  if (contentType) headers.set("Content-Type", contentType);
  for (const [name, value] of Object.entries(extra ?? {})) headers.set(name, value);
  return headers;
}

/**
 * Sends one request through the HTTP client after the secure-endpoint check (https, or http on
 * loopback: RFC 8252 §8.3), with `Accept: application/json` unless the caller says otherwise and
 * the 30 s default timeout. Provider endpoints that are not OAuth use it too (providers/*), so
 * every request authctl makes gets the same check, timeout and error messages.
 */
export async function sendRequest(
  http: HttpClient,
  url: string | URL,
  what: string,
  init: { method: "GET" | "POST"; headers?: Record<string, string>; body?: string; contentType?: string },
  options: HttpOptions & { retries?: number } = {},
): Promise<Response> {
  const checked = assertSecureEndpoint(url, what);
  return http.send(checked, what, {
    method: init.method,
    headers: buildHeaders({ ...init.headers, ...options.headers }, init.contentType),
    body: init.body,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    signal: options.signal,
    retries: options.retries,
  });
}
