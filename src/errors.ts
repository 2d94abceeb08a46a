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
  /** Extra machine-readable detail, e.g. the OAuth `error` code or HTTP status. */
  detail?: Record<string, unknown>;
  /** For usage errors: the command's usage line, printed under the message. */
  usage?: string;
}

export class AuthctlError extends Error {
  override readonly name = "AuthctlError";
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
 * The one place exit codes are decided. Contract: 0 ok · 1 error · 2 usage or cancelled · 4 not
 * logged in or authentication failed · exec: 126 cannot be executed, 127 not found (the shells'
 * convention, POSIX 2.8.2). Anything that is not an AuthctlError is an internal error: 1.
 */
export function exitCodeFor(error: unknown): number {
  if (!isAuthctlError(error)) return 1;
  switch (error.code) {
    case "USAGE":
    case "CANCELLED":
    case "NEEDS_TTY":
    case "UNKNOWN_PROVIDER":
      return 2;
    case "NOT_LOGGED_IN":
    case "AUTH_FAILED":
    case "OAUTH": // the provider refused: access_denied, invalid_grant, … — authentication failed
      // …unless the server is in trouble: the HTTP status decides first (a 500 carrying
      // invalid_grant, a 503 temporarily_unavailable), and trying again later may work.
      return serverTrouble(error) ? 1 : 4;
    case "NOT_EXECUTABLE":
      return 126;
    case "COMMAND_NOT_FOUND":
      return 127;
    default:
      return 1;
  }
}

function serverTrouble(error: AuthctlError): boolean {
  const status = error.detail?.status;
  if (typeof status === "number" && (status >= 500 || status === 429)) return true;
  const code = error.detail?.error;
  return code === "temporarily_unavailable" || code === "server_error";
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

/** A fetch failed because the server's certificate chain leads to no trusted CA (self-signed, unknown issuer). */
export function isTlsTrustError(error: unknown): boolean {
  const code = errorCode(error) ?? errorCode((error as { cause?: unknown } | null)?.cause);
  return code !== undefined && /UNABLE_TO_(VERIFY|GET_ISSUER)|SELF_SIGNED|CERT_UNTRUSTED/.test(code);
}
