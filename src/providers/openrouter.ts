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
async function exchangeForKey(
  deps: HookDeps,
  grant: CodeGrant,
  settings: OAuthSettings,
): Promise<LoginResult> {
  // Local metadata only (status shows it); OpenRouter names the key itself.
  const label = `created by authctl login on ${deps.hostname()}`.slice(0, 100);
  const { keyExchangeRequest, processKeyExchangeResponse } = await import("./openrouter-endpoints.ts");
  const { key, userId } = await processKeyExchangeResponse(
    await keyExchangeRequest(deps.http, {
      url: settings.tokenUrl!,
      code: grant.code,
      verifier: grant.verifier,
      signal: deps.signal,
    }),
  );
  return { kind: "key", key, label, account: userId };
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
