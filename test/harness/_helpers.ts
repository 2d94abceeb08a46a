/**
 * Helpers shared by the harness tests (private to test/harness): fake start/stop bookkeeping,
 * PKCE pairs, form/JSON requests and redirect handling, all with plain fetch and no authctl code.
 */
import { afterEach, expect } from "bun:test";
import { createHash, randomBytes } from "node:crypto";

export type Json = Record<string, any>;
export interface JsonAnswer {
  status: number;
  json: Json;
}

// --------------------------------------------------------------------------- cleanup

/**
 * Registers an afterEach (call it at the top level of a test file) that runs, last first, every
 * cleanup deferred during the test. `started(fake)` stops a fake after the test and returns it.
 */
export function cleanupAfterEach() {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });
  const defer = (cleanup: () => unknown): void => {
    cleanups.push(cleanup);
  };
  const started = <T extends { stop(): unknown }>(fake: T): T => {
    defer(() => fake.stop());
    return fake;
  };
  return { defer, started };
}

// --------------------------------------------------------------------------- PKCE

/** A fresh S256 PKCE pair. */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  return { verifier, challenge };
}

// --------------------------------------------------------------------------- requests

/** POST `params` as a form body; `init` can add headers, a signal... */
export function sendForm(
  url: string,
  params: Record<string, string>,
  init: RequestInit = {},
): Promise<Response> {
  return fetch(url, { method: "POST", body: new URLSearchParams(params), ...init });
}

/** POST `body` as JSON; a string is sent as it is. */
export function sendJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** The status and the JSON body (which must be JSON). */
export async function jsonAnswer(res: Response): Promise<JsonAnswer> {
  return { status: res.status, json: (await res.json()) as Json };
}

/** The status and the JSON body, null for an empty body. */
export async function jsonOrNullAnswer(res: Response): Promise<JsonAnswer> {
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : null) as Json };
}

export async function postForm(
  url: string,
  params: Record<string, string>,
  headers: Record<string, string> = {},
) {
  return jsonAnswer(await sendForm(url, params, { headers }));
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  return jsonAnswer(await sendJson(url, body, headers));
}

export async function getJson(url: string, headers: Record<string, string> = {}) {
  return jsonAnswer(await fetch(url, { headers }));
}

// --------------------------------------------------------------------------- redirects

/** `path` resolved against `base`, with `params` as its query. */
export function withQuery(base: string, path: string, params: Record<string, string>): string {
  const url = new URL(path, base);
  url.search = new URLSearchParams(params).toString();
  return url.href;
}

/** GET `url` without following the redirect; expects a 302 and returns where it points. */
export async function redirectTarget(url: string): Promise<URL> {
  const res = await fetch(url, { redirect: "manual" });
  expect(res.status).toBe(302);
  return new URL(res.headers.get("location")!);
}

/**
 * A PKCE login at an authorize endpoint: `paramsFor(challenge)` builds the query, the answer must
 * redirect (302). The verifier, the params sent, the redirect and its code and state.
 */
export async function pkceLogin(
  endpoint: (params: Record<string, string>) => string,
  paramsFor: (challenge: string) => Record<string, string>,
) {
  const { verifier, challenge } = pkce();
  const params = paramsFor(challenge);
  const location = await redirectTarget(endpoint(params));
  return {
    verifier,
    params,
    location,
    code: location.searchParams.get("code")!,
    state: location.searchParams.get("state")!,
  };
}
