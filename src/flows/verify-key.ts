import { AuthctlError, isTlsTrustError, TLS_TRUST_HINT } from "../errors.ts";
import type { ProviderDefinition } from "../providers/types.ts";
import type { Deps } from "../deps.ts";

export type KeyVerdict =
  | { kind: "valid" }
  | { kind: "unknown"; reason: string }
  | { kind: "unverifiable"; reason: string };

const VERIFY_TIMEOUT_MS = 10_000;

/**
 * One cheap authenticated request (providers.md §9). 200 proves the key; 401/403 disproves it
 * (thrown: the key is not stored); anything else — 429, 5xx, no network — proves nothing, and the
 * key is stored with a warning rather than lost.
 */
export async function verifyKey(deps: Deps, provider: ProviderDefinition, key: string): Promise<KeyVerdict> {
  const validation = provider.validation;
  if (!validation) return { kind: "unverifiable", reason: `${provider.name} has no endpoint that checks a key` };
  const url = new URL(validation.path.startsWith("http") ? validation.path : provider.apiUrl.replace(/\/+$/, "") + validation.path);
  if (url.protocol !== "https:" && !isLoopback(url.hostname)) {
    throw new AuthctlError("CONFIG_INVALID", `refusing to send the key to ${url.origin} without HTTPS`, {
      hint: `fix api_url for ${provider.id} in config.toml, or pass --no-verify`,
    });
  }
  const headers: Record<string, string> = { accept: "application/json", "user-agent": "authctl" };
  if (validation.auth.kind === "bearer") headers.authorization = `Bearer ${key}`;
  else {
    headers[validation.auth.name] = key;
    Object.assign(headers, validation.auth.extra);
  }
  let response: Response;
  try {
    response = await deps.fetch(url, {
      method: validation.method ?? "GET",
      headers,
      body: validation.method === "POST" ? (validation.body ?? "") : undefined,
      signal: AbortSignal.timeout(VERIFY_TIMEOUT_MS),
      redirect: "manual",
    });
  } catch (error) {
    if (isTlsTrustError(error)) return { kind: "unknown", reason: `${url.host}'s TLS certificate is not trusted here; ${TLS_TRUST_HINT}` };
    const why = (error as Error).name === "TimeoutError" ? "timed out" : "could not connect";
    return { kind: "unknown", reason: `${why} to ${url.host}` };
  }
  const detail = await errorDetail(response);
  if (response.ok) return { kind: "valid" };
  if (response.status === 401 || response.status === 403) {
    throw new AuthctlError("AUTH_FAILED", `${provider.name} rejected the key (HTTP ${response.status}${detail ? `: ${detail}` : ""})`, {
      hint: `nothing was stored; check the key${provider.keysPage ? ` at ${provider.keysPage}` : ""}, or pass --no-verify to store it anyway`,
      detail: { status: response.status },
    });
  }
  return { kind: "unknown", reason: `${url.host} answered HTTP ${response.status}${detail ? `: ${detail}` : ""}` };
}

/** The provider's own words, one line, short; redaction happens when it is printed. */
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
    if (typeof err === "string") message = err;
    else if (err && typeof err === "object" && typeof (err as Record<string, unknown>).message === "string") {
      message = (err as Record<string, string>).message!;
    } else if (typeof json.message === "string") message = json.message;
    else if (typeof json.detail === "string") message = json.detail;
  } catch {
    if (/^\s*</.test(text)) message = "";
  }
  message = message.replace(/\s+/g, " ").trim();
  return message.length > 200 ? `${message.slice(0, 200)}…` : message;
}

export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}
