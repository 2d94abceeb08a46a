import { describe, expect, test } from "bun:test";
import { AuthctlError, exitCodeFor, HttpError, NetworkError, OAuthError } from "../../src/errors.ts";

/** citty throws its own CLIError (name "CLIError", a code EARG or E_*), not exported by citty 0.2. */
class CLIError extends Error {
  override readonly name = "CLIError";
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** The contract's exit codes, decided by exitCodeFor alone (README "Exit codes"). */
describe("exitCodeFor", () => {
  const table: Array<[string, unknown, number]> = [
    ["a usage error", new AuthctlError("USAGE", "bad flag"), 2],
    ["a cancelled prompt", new AuthctlError("CANCELLED", "cancelled"), 2],
    ["citty's missing argument (EARG)", new CLIError("Missing required argument: --x", "EARG"), 2],
    [
      "citty's unknown sub-command (E_UNKNOWN_COMMAND)",
      new CLIError("Unknown command x", "E_UNKNOWN_COMMAND"),
      2,
    ],
    ["not logged in", new AuthctlError("NOT_LOGGED_IN", "not logged in"), 4],
    ["an OAuth refusal with 400", new OAuthError("refused", { error: "invalid_grant", status: 400 }), 4],
    [
      "an OAuth refusal from a redirect (no status)",
      new OAuthError("refused", { error: "access_denied" }),
      4,
    ],
    ["invalid_grant carried by a 500", new OAuthError("refused", { error: "invalid_grant", status: 500 }), 1],
    ["temporarily_unavailable with 200", new OAuthError("refused", { error: "temporarily_unavailable" }), 1],
    ["server_error from a redirect", new OAuthError("refused", { error: "server_error" }), 1],
    ["a rejected key (HTTP 401)", new HttpError("AUTH_FAILED", "rejected", { status: 401 }), 4],
    ["an auth failure answered with 503", new HttpError("AUTH_FAILED", "refused", { status: 503 }), 1],
    ["an auth failure answered with 429", new HttpError("AUTH_FAILED", "refused", { status: 429 }), 1],
    ["a protocol error", new HttpError("PROTOCOL", "HTML", { status: 200 }), 1],
    ["no network", new NetworkError("could not reach x", { host: "x:443" }), 1],
    ["exec: not executable", new AuthctlError("NOT_EXECUTABLE", "no"), 126],
    ["exec: not found", new AuthctlError("COMMAND_NOT_FOUND", "no"), 127],
    ["an internal error", new TypeError("x is undefined"), 1],
    // Every other code, so that moving one between the groups of exitCodeFor fails here.
    ["no terminal for a prompt", new AuthctlError("NEEDS_TTY", "no terminal"), 2],
    ["an unknown provider", new AuthctlError("UNKNOWN_PROVIDER", "no such provider"), 2],
    ["an authentication failure without a status", new AuthctlError("AUTH_FAILED", "refused"), 4],
    ["a corrupt store", new AuthctlError("STORE_CORRUPT", "bad file"), 1],
    ["a locked store", new AuthctlError("STORE_LOCKED", "locked"), 1],
    ["a store that cannot be written", new AuthctlError("STORE_IO", "read-only"), 1],
    ["an invalid config", new AuthctlError("CONFIG_INVALID", "bad key"), 1],
    ["a login that timed out", new AuthctlError("TIMEOUT", "no answer"), 1],
    ["a busy port", new AuthctlError("PORT_BUSY", "taken"), 1],
    ["an AuthctlError marked internal", new AuthctlError("INTERNAL", "bug"), 1],
  ];
  for (const [name, error, code] of table) {
    test(`${name} exits ${code}`, () => {
      expect(exitCodeFor(error)).toBe(code);
    });
  }
});

describe("typed errors", () => {
  test("every class is an AuthctlError with its code, a one-line message and its own fields", () => {
    const oauth = new OAuthError("token endpoint refused: invalid_grant", {
      error: "invalid_grant",
      description: "expired",
      status: 400,
    });
    expect(oauth).toBeInstanceOf(AuthctlError);
    expect(oauth).toMatchObject({
      code: "OAUTH",
      error: "invalid_grant",
      description: "expired",
      status: 400,
    });
    const http = new HttpError("PROTOCOL", "x answered HTTP 502", { status: 502, data: { a: 1 } });
    expect(http).toMatchObject({ code: "PROTOCOL", status: 502, data: { a: 1 } });
    const network = new NetworkError("timed out", { host: "h:443", timeoutMs: 5 }, { hint: "retry" });
    expect(network).toMatchObject({ code: "NETWORK", host: "h:443", timeoutMs: 5, hint: "retry" });
    expect(network.detail).toBeUndefined();
  });
});
