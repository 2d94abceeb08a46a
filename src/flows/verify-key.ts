import type { Deps, HttpClient } from "../deps.ts";
import { AuthctlError, HttpError, isTlsTrustError, NetworkError, TLS_TRUST_HINT } from "../errors.ts";
import { sendRequest } from "../oauth/index.ts";
import { terminalSafe } from "../format/terminal-text.ts";
import type { KeyValidation, ProviderDefinition } from "../providers/types.ts";
import { redact } from "../redact.ts";

export type KeyVerdict =
  /** `apiUrl`: for a regional provider, the region's API base that accepted the key. */
  | { kind: "valid"; apiUrl?: string; region?: string }
  | { kind: "unknown"; reason: string }
  | { kind: "unverifiable"; reason: string };

const VERIFY_TIMEOUT_MS = 10_000;

export type Attempt =
  | { kind: "valid" }
  | { kind: "rejected"; status: number; detail: string; host: string }
  | { kind: "unknown"; reason: string };

/**
 * One cheap authenticated request (providers.md §9). 200 proves the key; 401/403 (and statuses a
 * provider uses instead, such as xAI's 400) disprove it (thrown: the key is not stored); anything
 * else — 429, 5xx, no network — proves nothing, and the key is stored with a warning rather than
 * lost. A regional provider (MiniMax, Moonshot, DashScope) whose preferred region answers 401
 * asks the next one before calling the key wrong: a China key is unknown to the global host and
 * the other way round (MiniMax's own CLI probes both: MiniMax-AI/cli src/config/detect-region.ts).
 */
export async function verifyKey(
  deps: Deps,
  provider: ProviderDefinition,
  key: string,
  cancel?: AbortSignal,
): Promise<KeyVerdict> {
  const validation = provider.validation;
  if (!validation)
    return { kind: "unverifiable", reason: `${provider.name} has no endpoint that checks a key` };
  const absolute = /^https?:\/\//.test(validation.path);
  const candidates =
    !absolute && provider.regions?.length ? provider.regions : [{ id: undefined, apiUrl: provider.apiUrl }];
  const rejections: Array<Extract<Attempt, { kind: "rejected" }>> = [];
  let unknown: string | undefined;
  for (const candidate of candidates) {
    const url = new URL(absolute ? validation.path : candidate.apiUrl.replace(/\/+$/, "") + validation.path);
    const attempt = await check(deps, provider, validation, url, key, cancel);
    if (attempt.kind === "valid") {
      return candidate.id === undefined
        ? { kind: "valid" }
        : { kind: "valid", apiUrl: candidate.apiUrl, region: candidate.id };
    }
    if (attempt.kind === "unknown") {
      unknown ??= attempt.reason;
      continue;
    }
    rejections.push(attempt);
    // Only "unknown key" moves on to the next region; a 403 (or xAI's 400) is about this key.
    if (attempt.status !== 401) break;
  }
  // A region that could not answer leaves the key unproven: storing it with a warning beats
  // losing a key that may belong to that region.
  if (unknown !== undefined) return { kind: "unknown", reason: unknown };
  const first = rejections[0]!;
  const where = rejections.length > 1 ? ` at ${rejections.map((r) => r.host).join(" and ")}` : "";
  throw new HttpError(
    "AUTH_FAILED",
    `${provider.name} rejected the key (HTTP ${first.status}${first.detail ? `: ${first.detail}` : ""})${where}`,
    { status: first.status },
    {
      hint: `nothing was stored; check the key${provider.keysPage ? ` at ${provider.keysPage}` : ""}, or pass --no-verify to store it anyway`,
    },
  );
}

/** `cancel`: Ctrl-C while the provider is asked ends the check with its reason (a cancel), not "could not connect". */
async function check(
  deps: Deps,
  provider: ProviderDefinition,
  validation: KeyValidation,
  url: URL,
  key: string,
  cancel?: AbortSignal,
): Promise<Attempt> {
  if (url.protocol !== "https:" && !isLoopback(url.hostname)) {
    throw new AuthctlError("CONFIG_INVALID", `refusing to send the key to ${url.origin} without HTTPS`, {
      hint: `fix api_url for ${provider.id} in config.toml, or pass --no-verify`,
    });
  }
  let response: Response;
  try {
    response = await keyCheckRequest(deps.http, { url, validation, key, signal: cancel });
  } catch (error) {
    if (cancel?.aborted) throw cancel.reason;
    if (!(error instanceof NetworkError)) throw error;
    if (isTlsTrustError(error.cause))
      return {
        kind: "unknown",
        reason: `${url.host}'s TLS certificate is not trusted here; ${TLS_TRUST_HINT}`,
      };
    const why = error.timeoutMs !== undefined ? "timed out" : "could not connect";
    return { kind: "unknown", reason: `${why} to ${url.host}` };
  }
  return processKeyCheckResponse(response, validation, url.host);
}

/**
 * The check itself: the validation's method and body, the key as a bearer token or in the
 * provider's header, a 10 s timeout, no retries (a 429 or 5xx is an answer: "unknown").
 */
export function keyCheckRequest(
  http: HttpClient,
  input: { url: URL; validation: KeyValidation; key: string; signal?: AbortSignal },
): Promise<Response> {
  const { validation, key } = input;
  const headers: Record<string, string> = { "user-agent": "authctl" };
  if (validation.auth.kind === "bearer") headers.authorization = `Bearer ${key}`;
  else {
    headers[validation.auth.name] = key;
    Object.assign(headers, validation.auth.extra);
  }
  const post = validation.method === "POST";
  return sendRequest(
    http,
    input.url,
    "key check",
    { method: post ? "POST" : "GET", headers, body: post ? (validation.body ?? "") : undefined },
    { timeoutMs: VERIFY_TIMEOUT_MS, signal: input.signal },
  );
}

/** 2xx proves the key; 401/403 (and the provider's own reject statuses) disprove it; anything else proves nothing. */
export async function processKeyCheckResponse(
  response: Response,
  validation: KeyValidation,
  host: string,
): Promise<Attempt> {
  const detail = await errorDetail(response);
  if (response.ok) return { kind: "valid" };
  if (
    response.status === 401 ||
    response.status === 403 ||
    validation.rejectStatuses?.includes(response.status)
  ) {
    return { kind: "rejected", status: response.status, detail, host };
  }
  return {
    kind: "unknown",
    reason: `${host} answered HTTP ${response.status}${detail ? `: ${detail}` : ""}`,
  };
}

/**
 * The provider's own words, one line, short. The body is the server's choice: control and bidi
 * characters are removed (terminalSafe) and anything that looks like a key is masked (redact),
 * since error bodies sometimes echo the key back.
 */
async function errorDetail(response: Response): Promise<string> {
  if (response.ok) {
    await response.body?.cancel();
    return "";
  }
  const text = await response.text().catch(() => "");
  let message = text;
  try {
    const json = JSON.parse(text) as Record<string, unknown>;
    const err = json.error;
    const base = json.base_resp as Record<string, unknown> | undefined;
    if (typeof err === "string") message = err;
    else if (err && typeof err === "object" && typeof (err as Record<string, unknown>).message === "string") {
      message = (err as Record<string, string>).message!;
    } else if (typeof json.message === "string") message = json.message;
    else if (typeof json.detail === "string") message = json.detail;
    // MiniMax's envelope (openclaw/openclaw extensions/minimax/base-resp.ts).
    else if (base && typeof base.status_msg === "string") message = base.status_msg;
  } catch {
    if (/^\s*</.test(text)) message = "";
  }
  message = redact(terminalSafe(message)).replace(/\s+/g, " ").trim();
  return message.length > 200 ? `${message.slice(0, 200)}…` : message;
}

export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}
