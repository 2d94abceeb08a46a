import { AuthctlError, HttpError, NetworkError } from "../errors.ts";
import type { CodeGrant, HookDeps, LoginResult, OAuthMethod, OAuthSettings } from "./types.ts";

/**
 * OpenRouter's PKCE login yields a permanent API key, not tokens (providers.md §2;
 * https://openrouter.ai/docs/guides/overview/auth/oauth): authorize at /auth with `callback_url`,
 * then POST {code, code_verifier, code_challenge_method} as JSON to /api/v1/auth/keys. No client
 * id, no refresh. OpenRouter documents no `state`, so it rides in the callback path
 * (`/callback/<state>`, as earendil-works/pi packages/ai/src/auth/oauth/openrouter.ts does) and the
 * callback URL carries no query of its own for OpenRouter to append `?code=` to.
 * `key_label` is not sent: the documented exchange body has three fields, and the label is
 * documented only for the server-side POST /api/v1/auth/keys/code (providers.md §2, O6); pi sends
 * none either.
 */
const EXCHANGE_TIMEOUT_MS = 30_000;

async function exchangeForKey(
  deps: HookDeps,
  grant: CodeGrant,
  settings: OAuthSettings,
): Promise<LoginResult> {
  const url = settings.tokenUrl!;
  // Local metadata only (status shows it); OpenRouter names the key itself.
  const label = `created by authctl login on ${deps.hostname()}`.slice(0, 100);
  let response: Response;
  try {
    response = await deps.fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      // The documented body (https://openrouter.ai/docs/api/api-reference/o-auth/exchange-auth-code-for-api-key).
      body: JSON.stringify({
        code: grant.code,
        code_verifier: grant.verifier,
        code_challenge_method: "S256",
      }),
      signal: deps.signal
        ? AbortSignal.any([deps.signal, AbortSignal.timeout(EXCHANGE_TIMEOUT_MS)])
        : AbortSignal.timeout(EXCHANGE_TIMEOUT_MS),
      redirect: "manual",
    });
  } catch (error) {
    const host = new URL(url).host;
    throw new NetworkError(`could not reach OpenRouter at ${host}`, { host }, { cause: error });
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
    const message =
      typeof err === "string"
        ? err
        : typeof err?.message === "string"
          ? err.message
          : `HTTP ${response.status}`;
    // OpenRouter's own words (providers.md §2: 400 method mismatch, 403 bad code or verifier).
    throw new HttpError(
      "AUTH_FAILED",
      `OpenRouter refused the key exchange (HTTP ${response.status}: ${message})`,
      { status: response.status, data: json },
      { hint: "run 'authctl login openrouter' again" },
    );
  }
  if (typeof json.key !== "string" || !json.key) {
    throw new AuthctlError(
      "PROTOCOL",
      `OpenRouter's key exchange answered HTTP ${response.status} without a key`,
    );
  }
  return {
    kind: "key",
    key: json.key,
    label,
    account: typeof json.user_id === "string" ? json.user_id : undefined,
  };
}

export const OPENROUTER_OAUTH: OAuthMethod = {
  id: "oauth",
  kind: "oauth",
  label: "Log in with OpenRouter (creates a key)",
  flows: ["loopback"],
  source:
    "https://openrouter.ai/docs/guides/overview/auth/oauth; earendil-works/pi packages/ai/src/auth/oauth/openrouter.ts",
  policy: "supported (documented by OpenRouter)",
  oauth: {
    // https://openrouter.ai/docs/guides/overview/auth/oauth ("send your user to OpenRouter's /auth URL").
    authorizeUrl: "https://openrouter.ai/auth",
    // https://openrouter.ai/docs/api/api-reference/o-auth/exchange-auth-code-for-api-key.
    tokenUrl: "https://openrouter.ai/api/v1/auth/keys",
    scopes: [],
    // pi listens on 127.0.0.1 and writes that host into callback_url.
    redirectHost: "127.0.0.1",
    // Newer docs allow localhost callbacks "on any port"; older ones only 3000 (providers.md §2, O1/O2).
    redirectPort: 0,
    fallbackPorts: [],
    // authctl's own path; the state follows as one more segment (/callback/<state>).
    redirectPath: "/callback",
    tokenBody: "json",
  },
  env: { OPENROUTER_API_KEY: "key" },
  steps: {
    authorize: {
      request: { responseType: null, redirectUriParam: "callback_url", stateInRedirectPath: true },
    },
    // The code buys a permanent key: there are no tokens to finish.
    exchange: exchangeForKey,
  },
};
