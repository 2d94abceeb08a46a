/**
 * One error class for everything authctl reports to a person. `code` is stable (tests and
 * `--json` consumers match on it), `message` is one line, `hint` names the command to run next.
 * Exit codes are decided only in `exitCodeFor`, never at the throw site.
 */
export type ErrorCode =
  | "USAGE" // bad flags or arguments
  | "CANCELLED" // the user pressed Ctrl-C or declined
  | "NEEDS_TTY" // a prompt would be needed but nobody is at the keyboard
  | "NOT_LOGGED_IN"
  | "AUTH_FAILED" // the provider rejected the credential or the grant
  | "UNKNOWN_PROVIDER"
  | "STORE_CORRUPT"
  | "STORE_LOCKED"
  | "STORE_IO"
  | "CONFIG_INVALID"
  | "NETWORK" // could not reach a server (refused, DNS, timeout)
  | "PROTOCOL" // a server answered something that breaks the protocol
  | "OAUTH" // a server answered with an OAuth error (`error`, `error_description`)
  | "TIMEOUT"
  | "PORT_BUSY"
  | "COMMAND_NOT_FOUND"
  | "NOT_EXECUTABLE" // exec: the command exists but cannot be run (permission, not a program)
  | "INTERNAL";

export interface AuthctlErrorOptions {
  hint?: string;
  cause?: unknown;
  /**
   * Extra machine-readable detail. No code reads it any more: callers branch on the typed classes
   * (below, and src/store/errors.ts). A few writers in src/store/ and the project-file code still
   * fill it; once they stop, it goes.
   */
  detail?: Record<string, unknown>;
  /** For usage errors: the command's usage line, printed under the message. */
  usage?: string;
}

export class AuthctlError extends Error {
  override readonly name: string = "AuthctlError";
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly detail?: Record<string, unknown>;
  readonly usage?: string;

  constructor(code: ErrorCode, message: string, options: AuthctlErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.detail = options.detail;
    this.usage = options.usage;
  }
}

export function isAuthctlError(error: unknown): error is AuthctlError {
  return error instanceof AuthctlError;
}

/**
 * A server refused with an OAuth error (RFC 6749 §5.2, §4.1.2.1; RFC 8628 §3.5): its `error` code,
 * its `error_description` and the HTTP status it came with (absent for a redirect). Callers branch
 * on these fields, never on the message. Model: oauth4webapi's `ResponseBodyError`.
 */
export class OAuthError extends AuthctlError {
  readonly error: string;
  readonly description?: string;
  readonly status?: number;

  constructor(
    message: string,
    fields: { error: string; description?: string; status?: number },
    options: Omit<AuthctlErrorOptions, "detail" | "usage"> = {},
  ) {
    super("OAUTH", message, options);
    this.error = fields.error;
    this.description = fields.description;
    this.status = fields.status;
  }
}

/**
 * A server answered, with a status or a body that is not what the request asked for: `status`,
 * the body's media type, and its parsed JSON (or text) as `data` for callers that read it. `data`
 * is never put in the message as a whole: only fields known to be safe are quoted there. The code
 * is PROTOCOL unless the thrower knows better (AUTH_FAILED: a provider rejected the credential).
 */
export class HttpError extends AuthctlError {
  readonly status: number;
  readonly contentType?: string;
  readonly data?: unknown;

  constructor(
    code: ErrorCode,
    message: string,
    fields: { status: number; contentType?: string; data?: unknown },
    options: Omit<AuthctlErrorOptions, "detail" | "usage"> = {},
  ) {
    super(code, message, options);
    this.status = fields.status;
    this.contentType = fields.contentType;
    this.data = fields.data;
  }
}

/**
 * No answer: the server could not be reached (refused, DNS, TLS), the request timed out
 * (`timeoutMs` is set), or the answer was cut off while it was read (`host` is absent). Whether a
 * request may have reached the server decides whether a refresh may be replayed (actions/refresh.ts).
 */
export class NetworkError extends AuthctlError {
  /** host:port of the server that was asked, when the request was sent. */
  readonly host?: string;
  /** Set when the request gave up waiting after this long. */
  readonly timeoutMs?: number;

  constructor(
    message: string,
    fields: { host?: string; timeoutMs?: number } = {},
    options: Omit<AuthctlErrorOptions, "detail" | "usage"> = {},
  ) {
    super("NETWORK", message, options);
    this.host = fields.host;
    this.timeoutMs = fields.timeoutMs;
  }
}

/** The HTTP status an error came with, when it came from an answer. */
export function httpStatusOf(error: unknown): number | undefined {
  return error instanceof HttpError || error instanceof OAuthError ? error.status : undefined;
}

/**
 * Exit codes (the contract: README "Exit codes"). Only `exitCodeFor` and the few places that
 * return a code without an error (the bare `authctl` help) read them.
 */
export const EXIT = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  AUTH: 4,
  CANNOT_EXECUTE: 126,
  NOT_FOUND: 127,
} as const;

/**
 * The one place exit codes are decided. Contract: 0 ok · 1 error · 2 usage or cancelled · 4 not
 * logged in or authentication failed · exec: 126 cannot be executed, 127 not found (the shells'
 * convention, POSIX 2.8.2). citty's own argument errors (CLIError, code EARG or E_*) are usage
 * errors. Anything else that is not an AuthctlError is an internal error: 1.
 */
export function exitCodeFor(error: unknown): number {
  if (error instanceof Error && error.name === "CLIError") return EXIT.USAGE;
  if (!isAuthctlError(error)) return EXIT.ERROR;
  switch (error.code) {
    case "USAGE":
    case "CANCELLED":
    case "NEEDS_TTY":
    case "UNKNOWN_PROVIDER":
      return EXIT.USAGE;
    case "NOT_LOGGED_IN":
    case "AUTH_FAILED":
    case "OAUTH": // the provider refused: access_denied, invalid_grant, … — authentication failed
      // …unless the server is in trouble: the HTTP status decides first (a 500 carrying
      // invalid_grant, a 503 temporarily_unavailable), and trying again later may work.
      return isServerTrouble(error) ? EXIT.ERROR : EXIT.AUTH;
    case "NOT_EXECUTABLE":
      return EXIT.CANNOT_EXECUTE;
    case "COMMAND_NOT_FOUND":
      return EXIT.NOT_FOUND;
    default:
      return EXIT.ERROR;
  }
}

/** OAuth errors that say the server is struggling, not that the grant is bad (RFC 6749 §5.2, §4.1.2.1). */
const SERVER_TROUBLE_ERRORS = new Set(["temporarily_unavailable", "server_error"]);

/**
 * The server is in trouble (5xx, 429, or an OAuth `temporarily_unavailable`/`server_error`):
 * trying again later may work, so this is not an authentication failure.
 */
export function isServerTrouble(error: unknown): boolean {
  const status = httpStatusOf(error);
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  return error instanceof OAuthError && SERVER_TROUBLE_ERRORS.has(error.error);
}

/** Where a TLS-inspecting proxy (common in companies) is the likely cause, and how to trust it. */
export const TLS_TRUST_HINT =
  "if a proxy inspects TLS on this network, point NODE_EXTRA_CA_CERTS (or SSL_CERT_FILE) at its CA certificate";

/** The `code` of a system or fetch error ("ENOENT", "ECONNREFUSED", …), when it has a string one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Why a command `exec` found could not be started, as a shell would say it (POSIX 2.8.2): 127 for
 * a command that is not there, 126 for one that cannot be executed (no execute permission, a
 * directory, not a program for this system). Shared by `exec` and `exec --proxy`. Never the
 * runtime's message: for an argument error it quotes the whole environment, which holds the
 * credentials (issue 13.3). The code alone says what went wrong.
 */
export function commandStartError(command: string, error: unknown): AuthctlError {
  const code = errorCode(error);
  if (code === "ENOENT")
    return new AuthctlError("COMMAND_NOT_FOUND", `command not found: ${command}`, {
      hint: "check the name, or give its full path",
    });
  if (code === "EACCES" || code === "EISDIR")
    return new AuthctlError("NOT_EXECUTABLE", `cannot run ${command}: permission denied`, {
      hint: "check that it is executable (chmod +x)",
    });
  if (code === "ENOEXEC")
    return new AuthctlError(
      "NOT_EXECUTABLE",
      `cannot run ${command}: not a program this system can run (exec format error)`,
      { hint: "check that it was built for this machine, or that a script starts with #!" },
    );
  return new AuthctlError(
    "INTERNAL",
    `could not start ${command} (${code ?? (error as Error)?.name ?? "unknown error"})`,
  );
}

/** A fetch failed because the server's certificate chain leads to no trusted CA (self-signed, unknown issuer). */
export function isTlsTrustError(error: unknown): boolean {
  const code = errorCode(error) ?? errorCode((error as { cause?: unknown } | null)?.cause);
  return code !== undefined && /UNABLE_TO_(VERIFY|GET_ISSUER)|SELF_SIGNED|CERT_UNTRUSTED/.test(code);
}
