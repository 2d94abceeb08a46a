/**
 * The one HTTP client for authctl's own requests (OAuth endpoints, provider endpoints, key
 * checks), on ofetch. Loaded on the first request (main.ts builds `deps.http` lazily): `env`,
 * `token` and `exec` with nothing due never load it.
 *
 * What it does, so that no caller hand-rolls it again:
 * - every request goes out through the `fetch` it is given (deps.fetch: the loopback NO_PROXY rule
 *   in main.ts, the fakes in tests), with no redirects followed;
 * - the timeout is the `timeoutSignal` it is given (deps.timeoutSignal: AbortSignal.timeout in the
 *   binary, the fake clock in tests), so a test's clock fires it; it covers the whole answer, body
 *   included;
 * - an idempotent request (`retries` > 0: metadata GETs) is retried after a network failure or a
 *   408/429/5xx, with the pause also on that clock; a request that spends something (a code, a
 *   refresh token, a device code) is sent once, as RFC 9700 §4.14.2 requires for refresh tokens;
 * - an answer's body is read up to MAX_ANSWER_BYTES: the answers are small JSON documents, and a
 *   server that streams without end (a hostile or broken OAuth server named in config.toml) would
 *   otherwise fill memory until the timeout (a 200 MB discovery answer took `login` to 540 MB);
 * - ofetch's `FetchError` (status and data of a 4xx/5xx, or the network failure as its cause) is
 *   turned back into the answer (for the caller's process function to judge: OAuth errors live in
 *   4xx bodies) or into a NetworkError / CANCELLED error that names the host but never the body.
 */
import { createFetch, FetchError, type FetchContext } from "ofetch";
import type { HttpClient, HttpRequest } from "../deps.ts";
import { AuthctlError, errorCode, isTlsTrustError, NetworkError, TLS_TRUST_HINT } from "../errors.ts";

/** Statuses that say "try again" (RFC 9110 §15.5.9, §15.6; RFC 6585 §4), for idempotent requests only. */
const RETRY_STATUSES = [408, 429, 500, 502, 503, 504];
/**
 * The most of an answer's body read (16 MiB). Token, discovery, device and key-check answers are
 * small JSON documents: this is far above any of them and far below what fills a machine.
 */
export const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** The error a body past MAX_ANSWER_BYTES ends with: ofetch reports it as the fetch's cause. */
class AnswerTooLarge extends Error {}

/**
 * `fetch` whose answers stop with AnswerTooLarge past `limit` bytes of body, as they arrive: what is
 * read is bounded, not only what is kept.
 */
function cappedFetch(fetch: typeof globalThis.fetch, limit: number): typeof globalThis.fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const response = await fetch(input, init);
    if (!response.body) return response;
    let seen = 0;
    const body = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          seen += chunk.byteLength;
          if (seen > limit) controller.error(new AnswerTooLarge());
          else controller.enqueue(chunk);
        },
      }),
    );
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }) as typeof globalThis.fetch;
}

/** Pause before a retry. One retry at most in practice: a person is waiting. */
export const RETRY_DELAY_MS = 500;

export interface HttpClientDeps {
  fetch: typeof fetch;
  /** deps.sleep: the pause before a retry. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** deps.timeoutSignal: every request's timeout, so a test's fake clock fires it. */
  timeoutSignal(ms: number): AbortSignal;
}

export function createHttpClient(deps: HttpClientDeps): HttpClient {
  const $fetch = createFetch({ fetch: cappedFetch(deps.fetch, MAX_ANSWER_BYTES) });
  return {
    async send(url: URL, what: string, request: HttpRequest): Promise<Response> {
      if (request.signal?.aborted) throw cancelled(what);
      const timeout = deps.timeoutSignal(request.timeoutMs);
      const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
      // Before a retry: stop when the caller gave up or the time is spent, else wait on deps' clock.
      const beforeRetry = async (context: FetchContext) => {
        if (signal.aborted) throw context.error ?? signal.reason;
        const retries = typeof context.options.retry === "number" ? context.options.retry : 0;
        const status = context.response?.status;
        if (retries > 0 && (status === undefined || RETRY_STATUSES.includes(status))) {
          await deps.sleep(RETRY_DELAY_MS, signal).catch(() => {});
        }
      };
      try {
        const response = await $fetch.raw(url.href, {
          method: request.method,
          headers: request.headers,
          body: request.body,
          signal,
          // A 3xx from an OAuth or provider endpoint is answered as it is: following it would turn a
          // POST into a GET to somewhere else (and carry its headers there).
          redirect: "manual",
          // The body is read here, under the same timeout, and handed on whole (they are small).
          responseType: "arrayBuffer",
          retry: request.retries ?? 0,
          retryDelay: 0,
          retryStatusCodes: RETRY_STATUSES,
          onRequestError: beforeRetry,
          onResponseError: beforeRetry,
        });
        return answer(response);
      } catch (error) {
        // A 4xx/5xx (after any retries): the answer, for the process function to read.
        if (error instanceof FetchError && error.response) return answer(error.response);
        const cause = error instanceof FetchError && error.cause !== undefined ? error.cause : error;
        if (request.signal?.aborted) throw cancelled(what, cause);
        const where = hostPort(url);
        if (
          cause instanceof AnswerTooLarge ||
          (cause as { cause?: unknown })?.cause instanceof AnswerTooLarge
        )
          throw new AuthctlError(
            "PROTOCOL",
            `the ${what} at ${where} answered more than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB; authctl stopped reading`,
            { cause },
          );
        if (timeout.aborted) {
          throw new NetworkError(
            `the ${what} at ${where} did not answer within ${formatSeconds(request.timeoutMs)}`,
            { host: where, timeoutMs: request.timeoutMs },
            { cause },
          );
        }
        throw new NetworkError(
          `could not reach the ${what} at ${where} (${describeFetchError(cause)})`,
          { host: where },
          { cause, hint: isTlsTrustError(cause) ? TLS_TRUST_HINT : NETWORK_HINT },
        );
      }
    },
  };
}

/** A Response carrying the bytes ofetch already read, with the server's status and headers. */
function answer(response: Response & { _data?: unknown }): Response {
  const data = response._data;
  const body = data instanceof ArrayBuffer && ![101, 204, 205, 304].includes(response.status) ? data : null;
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/** What to do next when a server cannot be reached (the contract's one-line error names it). */
const NETWORK_HINT = "check the network (and HTTPS_PROXY or NO_PROXY, if a proxy is needed), then try again";

function cancelled(what: string, cause?: unknown): AuthctlError {
  return new AuthctlError("CANCELLED", `the request to the ${what} was cancelled`, { cause });
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** `host:port` with the scheme's default port spelled out, for network error messages. */
export function hostPort(url: URL): string {
  const port = url.port || (url.protocol === "https:" ? "443" : url.protocol === "http:" ? "80" : "");
  return port ? `${url.hostname}:${port}` : url.hostname;
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
