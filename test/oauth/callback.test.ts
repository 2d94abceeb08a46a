import { describe, expect, test } from "bun:test";
import { OAuthError } from "../../src/errors.ts";
import {
  type CallbackResult,
  parseCallback,
  parsePastedInput,
  type PastedCode,
} from "../../src/oauth/callback.ts";
import { expectAuthctlError } from "./_fakes.ts";

const STATE = "expected-state";
const cb = (query: string) => new URL(`http://127.0.0.1:1455/auth/callback${query}`);

describe("parseCallback", () => {
  const cases: [string, string, string | undefined, CallbackResult][] = [
    [
      "a code with the right state",
      "?code=abc&state=expected-state",
      STATE,
      { kind: "code", code: "abc", state: STATE },
    ],
    ["a code when no state is expected (OpenRouter)", "?code=abc", undefined, { kind: "code", code: "abc" }],
    ["a code with the wrong state", "?code=abc&state=other", STATE, { kind: "bad-state" }],
    ["a code without state when one is expected", "?code=abc", STATE, { kind: "bad-state" }],
    [
      "an error with the right state",
      "?error=access_denied&error_description=User%20said%20no&state=expected-state",
      STATE,
      { kind: "error", error: "access_denied", description: "User said no" },
    ],
    [
      "an error without any state (anyone can send one to a loopback port)",
      "?error=access_denied",
      STATE,
      { kind: "bad-state" },
    ],
    [
      "an error with another attempt's state",
      "?error=access_denied&state=other",
      STATE,
      { kind: "bad-state" },
    ],
    ["the right state but no code", "?state=expected-state", STATE, { kind: "missing-code" }],
    ["an empty code", "?code=&state=expected-state", STATE, { kind: "missing-code" }],
    ["a stray request (favicon)", "", undefined, { kind: "missing-code" }],
  ];
  for (const [name, query, expected, result] of cases) {
    test(name, () => {
      expect(parseCallback(cb(query), expected)).toEqual(result);
    });
  }

  const ISS = "https://as.example";
  const issCases: [string, string, boolean, CallbackResult][] = [
    [
      "the right iss",
      `?code=abc&state=${STATE}&iss=https%3A%2F%2Fas.example`,
      true,
      { kind: "code", code: "abc", state: STATE },
    ],
    [
      "another iss",
      `?code=abc&state=${STATE}&iss=https%3A%2F%2Fevil.example`,
      false,
      { kind: "bad-issuer", iss: "https://evil.example" },
    ],
    [
      "iss with a trailing slash the issuer does not have",
      `?code=abc&state=${STATE}&iss=https%3A%2F%2Fas.example%2F`,
      false,
      { kind: "bad-issuer", iss: "https://as.example/" },
    ],
    ["no iss where the metadata promises one", `?code=abc&state=${STATE}`, true, { kind: "bad-issuer" }],
    [
      "no iss where none was promised",
      `?code=abc&state=${STATE}`,
      false,
      { kind: "code", code: "abc", state: STATE },
    ],
    [
      "an error with another iss",
      `?error=access_denied&state=${STATE}&iss=https%3A%2F%2Fevil.example`,
      false,
      { kind: "bad-issuer", iss: "https://evil.example" },
    ],
    [
      "another iss and another state: the state decides first",
      `?code=abc&state=old&iss=https%3A%2F%2Fevil.example`,
      true,
      { kind: "bad-state" },
    ],
  ];
  for (const [name, query, required, result] of issCases) {
    test(`iss: ${name}`, () => {
      expect(parseCallback(cb(query), STATE, { issuer: ISS, required })).toEqual(result);
    });
  }
});

describe("parsePastedInput", () => {
  const accepted: [string, string, string | undefined, PastedCode][] = [
    [
      "a full redirect URL",
      "http://localhost:1455/auth/callback?code=abc&state=expected-state",
      STATE,
      { code: "abc", state: STATE },
    ],
    [
      "a full redirect URL with spaces and a newline around it",
      "  https://platform.claude.com/oauth/code/callback?code=abc&state=expected-state\n",
      STATE,
      { code: "abc", state: STATE },
    ],
    [
      "a redirect URL answering in the fragment",
      "https://app.example.com/cb#code=abc&state=expected-state",
      STATE,
      { code: "abc", state: STATE },
    ],
    ["code#state (Anthropic's code page)", "abc#expected-state", STATE, { code: "abc", state: STATE }],
    [
      "a query string with a leading ?",
      "?code=abc&state=expected-state",
      STATE,
      { code: "abc", state: STATE },
    ],
    [
      "a query string without a leading ?",
      "code=abc&state=expected-state",
      STATE,
      { code: "abc", state: STATE },
    ],
    [
      "a query string with the state first",
      "state=expected-state&code=abc",
      STATE,
      { code: "abc", state: STATE },
    ],
    ["a bare code", "\tabc-123_XYZ \n", STATE, { code: "abc-123_XYZ" }],
    ["a bare code ending in padding", "abc==", STATE, { code: "abc==" }],
    [
      "code#state when no state is expected",
      "abc#their-state",
      undefined,
      { code: "abc", state: "their-state" },
    ],
    [
      "a URL-encoded code in a query string",
      "code=a%2Fb%2Bc&state=expected-state",
      STATE,
      { code: "a/b+c", state: STATE },
    ],
  ];
  for (const [name, input, expected, result] of accepted) {
    test(`accepts ${name}`, () => {
      expect(parsePastedInput(input, expected)).toEqual(result);
    });
  }

  const mismatch = "the pasted state does not match this login attempt; start again";
  const refused: [string, string, Parameters<typeof expectAuthctlError>[1], string][] = [
    [
      "a redirect URL with another attempt's state",
      "http://localhost:1455/auth/callback?code=abc&state=old",
      "AUTH_FAILED",
      mismatch,
    ],
    ["code#state with another state", "abc#old", "AUTH_FAILED", mismatch],
    ["a query string with another state", "code=abc&state=old", "AUTH_FAILED", mismatch],
    [
      "a redirect URL carrying an OAuth error",
      "http://localhost:1455/auth/callback?error=access_denied&error_description=missing_codex_entitlement&state=expected-state",
      "OAUTH",
      "authorization server refused: access_denied (missing_codex_entitlement)",
    ],
    [
      "a redirect URL carrying an OAuth error without this login's state",
      "http://localhost:1455/auth/callback?error=access_denied&error_description=call%20evil",
      "USAGE",
      "the pasted error does not carry this login's state, so it is ignored; paste the redirect URL of this attempt",
    ],
    ["an empty paste", "   \n", "USAGE", "nothing was pasted; paste the code or the whole redirect URL"],
    [
      "a redirect URL without a code",
      "http://localhost:1455/auth/callback?state=expected-state",
      "USAGE",
      "the pasted text has no code; paste the whole redirect URL or the code",
    ],
    [
      "#state alone",
      "#expected-state",
      "USAGE",
      "the pasted text has no code; paste the whole redirect URL or the code",
    ],
    [
      "a sentence",
      "I could not log in",
      "USAGE",
      "the pasted text does not look like a code or a redirect URL",
    ],
  ];
  for (const [name, input, code, message] of refused) {
    test(`refuses ${name}`, async () => {
      await expectAuthctlError(() => parsePastedInput(input, STATE), code, message);
    });
  }

  test("an OAuth error in a pasted URL keeps the server's fields", async () => {
    const error = await expectAuthctlError(
      () => parsePastedInput(`https://x.example/cb?error=invalid_scope&state=${STATE}`, STATE),
      "OAUTH",
      "authorization server refused: invalid_scope",
    );
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({ error: "invalid_scope", description: undefined, status: undefined });
  });

  test("iss: a pasted URL naming another issuer is a mix-up; a bare code is refused where the issuer sends iss", async () => {
    const expected = { issuer: "https://as.example", required: true };
    await expectAuthctlError(
      () =>
        parsePastedInput(
          `https://x/cb?code=abc&state=${STATE}&iss=https%3A%2F%2Fevil.example`,
          STATE,
          expected,
        ),
      "AUTH_FAILED",
      'the authorization response comes from issuer "https://evil.example", but this login went to https://as.example; the code was not used (a possible mix-up attack, RFC 9207)',
    );
    await expectAuthctlError(
      () => parsePastedInput("abc", STATE, expected),
      "USAGE",
      "this provider names itself in its answer (iss): paste the whole redirect URL, not only the code",
    );
    expect(parsePastedInput("abc", STATE, { ...expected, required: false })).toEqual({ code: "abc" });
    expect(
      parsePastedInput(`https://x/cb?code=abc&state=${STATE}&iss=https%3A%2F%2Fas.example`, STATE, expected),
    ).toEqual({ code: "abc", state: STATE });
  });

  test("a mismatch message never contains the pasted code", async () => {
    const error = await expectAuthctlError(
      () => parsePastedInput("secret-code-value#old", STATE),
      "AUTH_FAILED",
      mismatch,
    );
    expect(error.message).not.toContain("secret-code-value");
  });
});
