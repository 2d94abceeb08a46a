/**
 * Reading and checking server answers, shared by the process functions in `oauth/`. Messages
 * never quote a field that may hold a secret; server-chosen text (`error`, `error_description`)
 * is shown verbatim but folded to one line, and redaction happens where it reaches stderr.
 */
import { AuthctlError, HttpError, NetworkError, OAuthError } from "../errors.ts";
import { terminalSafe } from "../format/terminal-text.ts";

export type JsonObject = Record<string, unknown>;

/** Longest server-chosen text quoted in a message. */
const MAX_SERVER_TEXT = 300;

/**
 * Folds server text to one line, so an error message stays one line, and takes out what a
 * terminal would act on (contract, Output discipline: server text is stripped of control
 * characters): escape sequences, C0 and C1 controls (U+009B is CSI in one character), DEL and the
 * bidi overrides that reorder what the user reads, as terminalSafe does for every other server text.
 */
export function oneLine(text: string): string {
  const folded = terminalSafe(text).replace(/\s+/g, " ").trim();
  return folded.length > MAX_SERVER_TEXT ? `${folded.slice(0, MAX_SERVER_TEXT - 1)}…` : folded;
}

export interface OAuthErrorFields {
  error: string;
  error_description?: string;
  status?: number;
}

/** `token endpoint refused: invalid_grant (grant request is invalid)`. */
export function createOAuthError(what: string, fields: OAuthErrorFields): OAuthError {
  const error = oneLine(fields.error);
  const description = fields.error_description === undefined ? undefined : oneLine(fields.error_description);
  const suffix = description ? ` (${description})` : "";
  return new OAuthError(`${what} refused: ${error}${suffix}`, {
    error: fields.error,
    description: fields.error_description,
    status: fields.status,
  });
}

function mediaType(response: Response): string {
  return (response.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
}

function notJson(response: Response, what: string, data?: unknown): HttpError {
  const type = mediaType(response) || "no content type";
  return new HttpError("PROTOCOL", `${what} answered HTTP ${response.status} (${type}), not a JSON object`, {
    status: response.status,
    contentType: type,
    data,
  });
}

/**
 * The body as a JSON object, or a PROTOCOL error naming the status and content type. HTML is
 * rejected without parsing (proxies and captive portals answer with pages). Other content types
 * are parsed anyway: some OAuth servers label JSON as text/plain, and every field is checked.
 */
export async function readJsonObject(response: Response, what: string): Promise<JsonObject> {
  if (mediaType(response) === "text/html") {
    await response.body?.cancel().catch(() => {});
    throw notJson(response, what);
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw new NetworkError(`the answer from the ${what} could not be read`, {}, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw notJson(response, what, text);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw notJson(response, what, parsed);
  return parsed as JsonObject;
}

/** The OAuth error in a body (RFC 6749 §5.2), if it carries one, whatever the HTTP status. */
export function oauthErrorIn(json: JsonObject, status: number, what: string): OAuthError | undefined {
  // OpenAI's auth server nests its codes: {error: {code: "refresh_token_reused", message}}.
  const nested =
    typeof json.error === "object" && json.error !== null ? (json.error as JsonObject) : undefined;
  if (nested && typeof nested.code === "string" && nested.code !== "" && status >= 400) {
    const message = typeof nested.message === "string" ? nested.message : undefined;
    return createOAuthError(what, { error: nested.code, error_description: message, status });
  }
  if (typeof json.error !== "string" || json.error === "") return undefined;
  const description = typeof json.error_description === "string" ? json.error_description : undefined;
  return createOAuthError(what, { error: json.error, error_description: description, status });
}

/** Throws `unexpectedStatus` unless the status is one of `ok`. */
export function assertSuccessStatus(
  json: JsonObject,
  status: number,
  ok: readonly number[],
  what: string,
): void {
  if (!ok.includes(status)) throw unexpectedStatus(json, status, what);
}

/**
 * The error for a non-success status that carries no OAuth error. A `message` (or `error.message`,
 * the shape many non-OAuth APIs use) is quoted so the person sees the server's reason.
 */
export function unexpectedStatus(json: JsonObject, status: number, what: string): HttpError {
  const nested =
    typeof json.error === "object" && json.error !== null ? (json.error as JsonObject).message : undefined;
  const message =
    typeof json.message === "string" ? json.message : typeof nested === "string" ? nested : undefined;
  const text = message
    ? `${what} answered HTTP ${status}: ${oneLine(message)}`
    : `${what} answered HTTP ${status} without an OAuth error`;
  return new HttpError("PROTOCOL", text, { status, data: json });
}

function invalid(what: string, key: string, expected: string): AuthctlError {
  return new AuthctlError("PROTOCOL", `${what} answered an invalid "${key}" (expected ${expected})`);
}

/**
 * RFC 6749 Appendix A.12 and A.17: an access or refresh token is 1*VSCHAR (printable ASCII,
 * %x20-7E), and so is every key and token a provider's server hands out. authctl writes them into
 * header lines (the `exec --proxy` swap), prints them for `$(authctl token …)` and exports them: a
 * CR or LF in one added header lines to the proxy's requests to the provider, and an ESC drove the
 * terminal `token` printed to.
 */
export function isTokenText(value: string): boolean {
  return /^[\x20-\x7e]+$/.test(value);
}

/** requireString for a token (isTokenText); the message never quotes the value. */
export function requireToken(json: JsonObject, key: string, what: string): string {
  const value = requireString(json, key, what);
  if (!isTokenText(value)) throw invalid(what, key, "printable ASCII, RFC 6749 Appendix A.12");
  return value;
}

/** optionalString for a token (isTokenText). */
export function optionalToken(json: JsonObject, key: string, what: string): string | undefined {
  const value = optionalString(json, key, what);
  if (value !== undefined && !isTokenText(value))
    throw invalid(what, key, "printable ASCII, RFC 6749 Appendix A.17");
  return value;
}

export function requireString(json: JsonObject, key: string, what: string): string {
  const value = json[key];
  if (value === undefined || value === null)
    throw new AuthctlError("PROTOCOL", `${what} answered without "${key}"`);
  if (typeof value !== "string" || value === "") throw invalid(what, key, "a non-empty string");
  return value;
}

/** Absent, null and "" all mean "not given": servers send each of them for optional fields. */
export function optionalString(json: JsonObject, key: string, what: string): string | undefined {
  const value = json[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw invalid(what, key, "a string");
  return value;
}

/** A positive number of seconds; a numeric string such as "3600" is accepted (several servers send one). */
export function optionalSeconds(json: JsonObject, key: string, what: string): number | undefined {
  const value = json[key];
  if (value === undefined || value === null) return undefined;
  const numeric = typeof value === "string" && /^\d+(\.\d+)?$/.test(value.trim());
  const number = typeof value === "number" ? value : numeric ? Number(value) : NaN;
  if (!Number.isFinite(number) || number <= 0) throw invalid(what, key, "a positive number of seconds");
  return number;
}

export function requireSeconds(json: JsonObject, key: string, what: string): number {
  const value = optionalSeconds(json, key, what);
  if (value === undefined) throw new AuthctlError("PROTOCOL", `${what} answered without "${key}"`);
  return value;
}

/** An absolute URL that uses https (or http on loopback); `check` is isSecureEndpoint. */
export function optionalUrl(
  json: JsonObject,
  key: string,
  what: string,
  check: (url: string) => boolean,
): string | undefined {
  const value = optionalString(json, key, what);
  if (value === undefined) return undefined;
  if (!check(value)) throw invalid(what, key, "an https URL");
  return value;
}
