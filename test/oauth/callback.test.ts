import { describe, expect, test } from "bun:test";
import { type CallbackResult, parseCallback, parsePastedInput, type PastedCode } from "../../src/oauth/callback.ts";
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
    ["an error without any state", "?error=access_denied", STATE, { kind: "error", error: "access_denied" }],
    ["an error with another attempt's state", "?error=access_denied&state=other", STATE, { kind: "bad-state" }],
    ["the right state but no code", "?state=expected-state", STATE, { kind: "missing-code" }],
    ["an empty code", "?code=&state=expected-state", STATE, { kind: "missing-code" }],
    ["a stray request (favicon)", "", undefined, { kind: "missing-code" }],
  ];
  for (const [name, query, expected, result] of cases) {
    test(name, () => {
      expect(parseCallback(cb(query), expected)).toEqual(result);
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
    ["a query string with a leading ?", "?code=abc&state=expected-state", STATE, { code: "abc", state: STATE }],
    ["a query string without a leading ?", "code=abc&state=expected-state", STATE, { code: "abc", state: STATE }],
    ["a query string with the state first", "state=expected-state&code=abc", STATE, { code: "abc", state: STATE }],
    ["a bare code", "\tabc-123_XYZ \n", STATE, { code: "abc-123_XYZ" }],
    ["a bare code ending in padding", "abc==", STATE, { code: "abc==" }],
    ["code#state when no state is expected", "abc#their-state", undefined, { code: "abc", state: "their-state" }],
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
    ["a sentence", "I could not log in", "USAGE", "the pasted text does not look like a code or a redirect URL"],
  ];
  for (const [name, input, code, message] of refused) {
    test(`refuses ${name}`, async () => {
      await expectAuthctlError(() => parsePastedInput(input, STATE), code, message);
    });
  }

  test("an OAuth error in a pasted URL keeps the server's fields", async () => {
    const error = await expectAuthctlError(
      () => parsePastedInput("https://x.example/cb?error=invalid_scope", STATE),
      "OAUTH",
      "authorization server refused: invalid_scope",
    );
    expect(error.detail).toEqual({ error: "invalid_scope", error_description: undefined, status: undefined });
  });

  test("a mismatch message never contains the pasted code", async () => {
    const error = await expectAuthctlError(() => parsePastedInput("secret-code-value#old", STATE), "AUTH_FAILED", mismatch);
    expect(error.message).not.toContain("secret-code-value");
  });
});
