/**
 * Reading the authorization response (RFC 6749 §4.1.2): from the loopback redirect, or from what
 * a person pasted when the browser could not reach the loopback server.
 */
import { AuthctlError } from "../errors.ts";
import { createOAuthError, oneLine } from "./_response.ts";

export type CallbackResult =
  | { kind: "code"; code: string; state?: string }
  | { kind: "error"; error: string; description?: string }
  | { kind: "bad-state" }
  /** The state is this attempt's, but the answer names another issuer (or none where one is required). */
  | { kind: "bad-issuer"; iss?: string }
  | { kind: "missing-code" };

/**
 * The issuer this attempt's authorization request went to (RFC 9207). `required` when its
 * metadata says `authorization_response_iss_parameter_supported`: then an answer without `iss`
 * is refused too. Compared by simple string comparison (RFC 9207 §2.4).
 */
export interface ExpectedIssuer {
  issuer: string;
  required: boolean;
}

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
 * Classifies a request that reached the loopback redirect URI, in oauth4webapi's order
 * (`validateAuthResponse`): state first, then issuer, then error or code. When `expectedState`
 * is given, every answer — an error too — must carry it (CSRF protection, RFC 6749 §10.12,
 * RFC 9700 §4.7): any web page or local process can reach a loopback port, so an error without
 * this attempt's state is ignored as `bad-state` and can neither end the login nor put its text
 * on the terminal. With `expectedIssuer`, an `iss` naming another server is a mix-up (RFC 9207,
 * RFC 9700 §4.4): the code must not go to this attempt's token endpoint.
 */
export function parseCallback(
  url: URL,
  expectedState?: string,
  expectedIssuer?: ExpectedIssuer,
): CallbackResult {
  const params = url.searchParams;
  const state = param(params, "state");
  const error = param(params, "error");
  if (expectedState !== undefined && state !== expectedState) return { kind: "bad-state" };
  const iss = param(params, "iss");
  if (issuerMismatch(iss, expectedIssuer))
    return iss === undefined ? { kind: "bad-issuer" } : { kind: "bad-issuer", iss };
  if (error !== undefined) {
    const description = param(params, "error_description");
    return description === undefined ? { kind: "error", error } : { kind: "error", error, description };
  }
  const code = param(params, "code");
  if (code === undefined) return { kind: "missing-code" };
  return state === undefined ? { kind: "code", code } : { kind: "code", code, state };
}

function issuerMismatch(iss: string | undefined, expected: ExpectedIssuer | undefined): boolean {
  if (!expected) return false;
  return iss === undefined ? expected.required : iss !== expected.issuer;
}

/** The one-line refusal of a mix-up (RFC 9207 §2.4); the foreign issuer is shown folded and cut short. */
export function issuerMismatchError(expected: ExpectedIssuer, iss: string | undefined): AuthctlError {
  const named = iss === undefined ? "names no issuer" : `comes from issuer "${oneLine(iss).slice(0, 120)}"`;
  return new AuthctlError(
    "AUTH_FAILED",
    `the authorization response ${named}, but this login went to ${expected.issuer}; the code was not used (a possible mix-up attack, RFC 9207)`,
    {
      hint: "check the provider's issuer in config.toml, then log in again",
    },
  );
}

/**
 * Accepts a full redirect URL, `code#state` (Anthropic's code page), a query string
 * `code=…&state=…` with or without a leading `?`, or a bare code. Whitespace around the input is
 * ignored. The state is checked whenever the input carries one; a bare code has none to check.
 */
export function parsePastedInput(
  input: string,
  expectedState?: string,
  expectedIssuer?: ExpectedIssuer,
): PastedCode {
  const text = input.trim();
  if (text === "")
    throw new AuthctlError("USAGE", "nothing was pasted; paste the code or the whole redirect URL");

  const parts = splitPasted(text);
  if (parts.state !== undefined && expectedState !== undefined && parts.state !== expectedState) {
    throw new AuthctlError("AUTH_FAILED", STATE_MISMATCH_MESSAGE);
  }
  // An error must prove it belongs to this attempt before its text is believed or shown (the
  // listener ignores such answers the same way); the person can paste the right one.
  if (parts.error !== undefined && expectedState !== undefined && parts.state === undefined) {
    throw new AuthctlError(
      "USAGE",
      "the pasted error does not carry this login's state, so it is ignored; paste the redirect URL of this attempt",
    );
  }
  if (expectedIssuer) {
    if (parts.bare && expectedIssuer.required) {
      throw new AuthctlError(
        "USAGE",
        "this provider names itself in its answer (iss): paste the whole redirect URL, not only the code",
      );
    }
    if (!parts.bare && issuerMismatch(parts.iss, expectedIssuer))
      throw issuerMismatchError(expectedIssuer, parts.iss);
  }
  if (parts.error !== undefined) {
    throw createOAuthError("authorization server", {
      error: parts.error,
      error_description: parts.description,
    });
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
  iss?: string;
  /** A bare code or `code#state`: text that cannot carry `iss`. */
  bare?: boolean;
  error?: string;
  description?: string;
}

function fromParams(params: URLSearchParams): PastedParts {
  return {
    code: param(params, "code"),
    state: param(params, "state"),
    iss: param(params, "iss"),
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
      throw new AuthctlError(
        "USAGE",
        "the pasted URL is not valid; paste the whole redirect URL or the code",
      );
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
  if (hash === -1) return { code: text, bare: true };
  const code = text.slice(0, hash).trim();
  const state = text.slice(hash + 1).trim();
  return { code: code === "" ? undefined : code, state: state === "" ? undefined : state, bare: true };
}
