import { expect } from "bun:test";
import { AuthctlError, type ErrorCode } from "../../src/errors.ts";
import type { HttpClient } from "../../src/deps.ts";
import { createHttpClient } from "../../src/io/http.ts";

export interface RecordedRequest {
  url: string;
  method: string;
  headers: Headers;
  body: string | undefined;
  redirect: RequestInit["redirect"];
  signal: AbortSignal | undefined;
}

type Answer = Response | ((request: RecordedRequest) => Response | Promise<Response>);

/**
 * A fetch that records every request and answers from a script, in order. Running out of
 * answers fails the test, like an unexpected network request would.
 */
export function createRecordingFetch(...answers: Answer[]): {
  fetch: typeof fetch;
  requests: RecordedRequest[];
} {
  const requests: RecordedRequest[] = [];
  const queue = [...answers];
  const fake = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const body = init.body === undefined || init.body === null ? undefined : String(init.body);
    const request: RecordedRequest = {
      url: input instanceof Request ? input.url : String(input),
      method: init.method ?? "GET",
      headers: new Headers(init.headers),
      body,
      redirect: init.redirect,
      signal: init.signal ?? undefined,
    };
    requests.push(request);
    const answer = queue.shift();
    if (answer === undefined) throw new Error(`unexpected request: ${request.method} ${request.url}`);
    return typeof answer === "function" ? answer(request) : answer;
  };
  return { fetch: fake as unknown as typeof fetch, requests };
}

/** A fetch that never answers until its signal aborts, then rejects the way fetch does. */
export function createHangingFetch(): typeof fetch {
  const fake = (_input: unknown, init: RequestInit = {}) =>
    new Promise<Response>((_resolve, reject) => {
      const signal = init.signal;
      if (!signal) return;
      signal.addEventListener("abort", () =>
        reject(new DOMException("The operation was aborted.", "AbortError")),
      );
    });
  return fake as unknown as typeof fetch;
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", ...headers },
  });
}

export function htmlResponse(
  status: number,
  html = "<html><body><h1>Bad gateway</h1></body></html>",
): Response {
  return new Response(html, { status, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

/** Awaits `action` and returns the AuthctlError it threw, after checking its code and message. */
export async function expectAuthctlError(
  action: Promise<unknown> | (() => unknown),
  code: ErrorCode,
  message: string,
): Promise<AuthctlError> {
  let thrown: unknown;
  try {
    await (typeof action === "function" ? action() : action);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(AuthctlError);
  const error = thrown as AuthctlError;
  expect({ code: error.code, message: error.message }).toEqual({ code, message });
  return error;
}

/** A port that was just free and is now closed: connecting to it is refused. */
export async function refusedPort(): Promise<number> {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const port = server.port;
  await server.stop(true);
  if (port === undefined) throw new Error("no port");
  return port;
}

/** Deterministic bytes 0, 1, 2, … that keep counting across calls, so two draws differ. */
export function createCountingRandom(): (length: number) => Uint8Array {
  let next = 0;
  return (length) => Uint8Array.from({ length }, () => next++ % 256);
}

/**
 * authctl's HTTP client (io/http.ts) over a fetch (a recording fake, a hanging one, or the real
 * one), with real timers: what deps.http is in the binary.
 */
export function httpOver(fetchFn: typeof fetch): HttpClient {
  return createHttpClient({
    fetch: fetchFn,
    sleep: (ms, signal) => realSleep(ms, signal),
    timeoutSignal: (ms) => AbortSignal.timeout(ms),
  });
}

function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });
}
