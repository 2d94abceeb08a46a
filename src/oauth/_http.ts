/**
 * The transport shared by every request function in `oauth/`: one fetch with `Accept:
 * application/json`, a timeout, no redirects and no retries, and fetch failures turned into
 * NETWORK errors that name the host and port but never the request body.
 */
import { AuthctlError, errorCode, isTlsTrustError, NetworkError, TLS_TRUST_HINT } from "../errors.ts";
import { registerSecret } from "../redact.ts";
import { hostPort } from "./endpoints.ts";

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
  /** Gives up waiting for the server after this long (default 30 s). */
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
  fetchFn: typeof fetch,
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
  const headers = buildHeaders(options.headers, contentType);
  return send(fetchFn, url, what, { method: "POST", headers, body }, options);
}

export async function getRequest(
  fetchFn: typeof fetch,
  url: URL,
  what: string,
  options: HttpOptions = {},
): Promise<Response> {
  return send(fetchFn, url, what, { method: "GET", headers: buildHeaders(options.headers) }, options);
}

function buildHeaders(extra: Record<string, string> | undefined, contentType?: string): Headers {
  const headers = new Headers({ Accept: "application/json" });
  if (contentType) headers.set("Content-Type", contentType);
  for (const [name, value] of Object.entries(extra ?? {})) headers.set(name, value);
  return headers;
}

async function send(
  fetchFn: typeof fetch,
  url: URL,
  what: string,
  init: RequestInit,
  options: HttpOptions,
): Promise<Response> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (options.signal?.aborted) throw cancelled(what);
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  try {
    // Redirects are not followed: a token endpoint that redirects would turn the POST into a GET
    // to somewhere else, so a 3xx is reported as a protocol error instead.
    return await fetchFn(url.href, { ...init, signal, redirect: "manual" });
  } catch (error) {
    if (options.signal?.aborted) throw cancelled(what, error);
    const where = hostPort(url);
    if (timeout.aborted) {
      throw new NetworkError(
        `the ${what} at ${where} did not answer within ${formatSeconds(timeoutMs)}`,
        { host: where, timeoutMs },
        { cause: error },
      );
    }
    throw new NetworkError(
      `could not reach the ${what} at ${where} (${describeFetchError(error)})`,
      { host: where },
      { cause: error, hint: isTlsTrustError(error) ? TLS_TRUST_HINT : undefined },
    );
  }
}

function cancelled(what: string, cause?: unknown): AuthctlError {
  return new AuthctlError("CANCELLED", `the request to the ${what} was cancelled`, { cause });
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/**
 * A short reason from the error code only. Fetch error messages are not used: some include the
 * URL, and a message must stay one line.
 */
export function describeFetchError(error: unknown): string {
  const code = errorCode(error) ?? errorCode((error as { cause?: unknown } | null)?.cause);
  switch (code) {
    case "ECONNREFUSED":
    case "ConnectionRefused":
      return "connection refused";
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
      return "host not found";
    case "ECONNRESET":
    case "ConnectionClosed":
      return "connection reset";
    case "ETIMEDOUT":
      return "connection timed out";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "network unreachable";
    default:
      if (isTlsTrustError(error)) return `TLS certificate not trusted: ${code}`;
      if (code && /CERT|SSL|TLS/i.test(code)) return `TLS error ${code}`;
      if (code) return code;
      return error instanceof Error ? error.name : "fetch failed";
  }
}
