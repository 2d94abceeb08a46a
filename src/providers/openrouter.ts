import { AuthctlError } from "../errors.ts";
import type { CodeExchangeInput, HookDeps, LoginResult, OAuthMethod } from "./types.ts";

/**
 * OpenRouter's PKCE login yields a permanent API key, not tokens (providers.md §2): authorize at
 * /auth with `callback_url`, then POST the code and verifier as JSON to /api/v1/auth/keys.
 * No client id, no refresh. OpenRouter documents no `state`, so it rides in the callback URL.
 */
const EXCHANGE_TIMEOUT_MS = 30_000;

async function exchangeForKey(deps: HookDeps, input: CodeExchangeInput): Promise<LoginResult> {
  const url = input.settings.tokenUrl!;
  const label = `authctl@${deps.hostname()}`.slice(0, 100);
  let response: Response;
  try {
    response = await deps.fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ code: input.code, code_verifier: input.verifier, code_challenge_method: "S256", key_label: label }),
      signal: deps.signal ? AbortSignal.any([deps.signal, AbortSignal.timeout(EXCHANGE_TIMEOUT_MS)]) : AbortSignal.timeout(EXCHANGE_TIMEOUT_MS),
      redirect: "manual",
    });
  } catch (error) {
    throw new AuthctlError("NETWORK", `could not reach OpenRouter at ${new URL(url).host}`, { cause: error });
  }
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Shown below by status only: an HTML error page says nothing useful verbatim.
  }
  if (!response.ok) {
    const err = json.error as { message?: unknown } | string | undefined;
    const message = typeof err === "string" ? err : typeof err?.message === "string" ? err.message : `HTTP ${response.status}`;
    // OpenRouter's own words (providers.md §2: 400 method mismatch, 403 bad code or verifier).
    throw new AuthctlError("AUTH_FAILED", `OpenRouter refused the key exchange (HTTP ${response.status}: ${message})`, {
      hint: "run 'authctl login openrouter' again",
      detail: { status: response.status },
    });
  }
  if (typeof json.key !== "string" || !json.key) {
    throw new AuthctlError("PROTOCOL", `OpenRouter's key exchange answered HTTP ${response.status} without a key`);
  }
  return { kind: "key", key: json.key, label, account: typeof json.user_id === "string" ? json.user_id : undefined };
}

export const OPENROUTER_OAUTH: OAuthMethod = {
  id: "oauth",
  kind: "oauth",
  label: "Log in with OpenRouter (creates a key)",
  flows: ["loopback", "paste"],
  oauth: {
    authorizeUrl: "https://openrouter.ai/auth",
    tokenUrl: "https://openrouter.ai/api/v1/auth/keys",
    scopes: [],
    redirectHost: "127.0.0.1",
    // Newer docs allow any loopback port; older ones only 3000 (providers.md §2).
    redirectPort: 0,
    fallbackPorts: [],
    redirectPath: "/callback",
    tokenBody: "json",
  },
  env: { OPENROUTER_API_KEY: "key" },
  hooks: {
    authorize: { responseType: null, redirectUriParam: "callback_url", stateInRedirectUri: true },
    exchangeCode: exchangeForKey,
  },
};
