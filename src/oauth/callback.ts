/**
 * Reading the authorization response (RFC 6749 §4.1.2): from the loopback redirect, or from what
 * a person pasted when the browser could not reach the loopback server.
 */
import { AuthctlError } from "../errors.ts";
import { createOAuthError } from "./_response.ts";

export type CallbackResult =
  | { kind: "code"; code: string; state?: string }
  | { kind: "error"; error: string; description?: string }
  | { kind: "bad-state" }
  | { kind: "missing-code" };

export interface PastedCode {
  code: string;
  /** The state that came with the code, when the pasted text had one (Anthropic wants it back). */
  state?: string;
}

/** The pasted-state mismatch message; flows may show the same text for a loopback mismatch. */
export const STATE_MISMATCH_MESSAGE = "the pasted state does not match this login attempt; start again";

function param(params: URLSearchParams, name: string): string | undefined {
  const value = params.get(name);
  return value === null || value === "" ? undefined : value;
}

/**
 * Classifies a request that reached the loopback redirect URI. When `expectedState` is given,
 * a code is accepted only with the matching state (CSRF protection, RFC 6749 §10.12), and an
 * error with a different state is ignored as `bad-state`, so another page cannot end the login.
 * An error without any state is reported: some servers leave state out of error redirects, and
 * a forged one can only abort the attempt, not complete it.
 */
export function parseCallback(url: URL, expectedState?: string): CallbackResult {
  const params = url.searchParams;
  const state = param(params, "state");
  const error = param(params, "error");
  if (expectedState !== undefined) {
    const bad = state === undefined ? error === undefined : state !== expectedState;
    if (bad) return { kind: "bad-state" };
  }
  if (error !== undefined) {
    const description = param(params, "error_description");
    return description === undefined ? { kind: "error", error } : { kind: "error", error, description };
  }
  const code = param(params, "code");
  if (code === undefined) return { kind: "missing-code" };
  return state === undefined ? { kind: "code", code } : { kind: "code", code, state };
}

/**
 * Accepts a full redirect URL, `code#state` (Anthropic's code page), a query string
 * `code=…&state=…` with or without a leading `?`, or a bare code. Whitespace around the input is
 * ignored. The state is checked whenever the input carries one; a bare code has none to check.
 */
export function parsePastedInput(input: string, expectedState?: string): PastedCode {
  const text = input.trim();
  if (text === "") throw new AuthctlError("USAGE", "nothing was pasted; paste the code or the whole redirect URL");

  const parts = splitPasted(text);
  if (parts.state !== undefined && expectedState !== undefined && parts.state !== expectedState) {
    throw new AuthctlError("AUTH_FAILED", STATE_MISMATCH_MESSAGE);
  }
  if (parts.error !== undefined) {
    throw createOAuthError("authorization server", { error: parts.error, error_description: parts.description });
  }
  if (parts.code === undefined) {
    throw new AuthctlError("USAGE", "the pasted text has no code; paste the whole redirect URL or the code");
  }
  if (/\s/.test(parts.code)) {
    throw new AuthctlError("USAGE", "the pasted text does not look like a code or a redirect URL");
  }
  return parts.state === undefined ? { code: parts.code } : { code: parts.code, state: parts.state };
}

interface PastedParts {
  code?: string;
  state?: string;
  error?: string;
  description?: string;
}

function fromParams(params: URLSearchParams): PastedParts {
  return {
    code: param(params, "code"),
    state: param(params, "state"),
    error: param(params, "error"),
    description: param(params, "error_description"),
  };
}

function splitPasted(text: string): PastedParts {
  if (/^[a-z][a-z\d+.-]*:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new AuthctlError("USAGE", "the pasted URL is not valid; paste the whole redirect URL or the code");
    }
    const query = fromParams(url.searchParams);
    // Some servers answer in the fragment instead of the query; look there only when the query is silent.
    if (query.code === undefined && query.error === undefined && url.hash.length > 1) {
      return fromParams(new URLSearchParams(url.hash.slice(1)));
    }
    return query;
  }
  if (/^\??(?:[^=&#\s]+=[^&#]*&)*(?:code|state|error)=/.test(text)) {
    return fromParams(new URLSearchParams(text.replace(/^\?/, "")));
  }
  const hash = text.indexOf("#");
  if (hash === -1) return { code: text };
  const code = text.slice(0, hash).trim();
  const state = text.slice(hash + 1).trim();
  return { code: code === "" ? undefined : code, state: state === "" ? undefined : state };
}
