import type { TokenSet } from "../oauth/token.ts";
import type { HookDeps, LoginResult, LoginSteps, OAuthMethod, OAuthSettings } from "./types.ts";

/**
 * Anthropic (providers.md §3). Both account logins use the Claude Code client: PKCE, a JSON token
 * endpoint that wants `state` in the body, rotating refresh tokens.
 * - `claude` keeps the Pro/Max subscription tokens, for Claude Code only (Anthropic's terms).
 * - `console` turns the login into a permanent, pay-as-you-go API key (create_api_key).
 */
// Claude Code's public client id (badlogic/pi-mono packages/ai/src/utils/oauth/anthropic.ts, base64 there).
const CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e";

const base: Omit<OAuthSettings, "authorizeUrl" | "scopes"> = {
  // pi-mono anthropic.ts TOKEN_URL (commit 92882dc4 moved it from console.anthropic.com).
  tokenUrl: "https://platform.claude.com/v1/oauth/token",
  clientId: CLIENT_ID,
  // The redirect is pi-mono anthropic.ts REDIRECT_URI, http://localhost:53692/callback (since
  // 92882dc4), bound on 127.0.0.1. Claude Code itself sends http://localhost:<port>/callback.
  redirectHost: "localhost",
  redirectPort: 53692,
  fallbackPorts: [],
  redirectPath: "/callback",
  // JSON, with `state` in the body (pi-mono anthropic.ts; providers.md §3). That state is
  // authctl's own random value, on purpose: pi-mono anthropic.ts (commit 83378aad) sends the PKCE
  // verifier as `state`, which puts the verifier in the authorize URL and defeats PKCE
  // (providers.md §1; STYLE.md: state and verifier are independent).
  tokenBody: "json",
  // pi-mono anthropic.ts sends code=true (the page shows a code to paste when no loopback answers).
  extraAuthorizeParams: { code: "true" },
};

/** The standard code exchange, with `state` in the JSON body (pi-mono anthropic.ts; providers.md §3). */
const exchangeWithState: LoginSteps["exchange"] = async (_deps, grant, _settings, standard) => ({
  kind: "tokens",
  tokens: await standard({ state: grant.state }),
});

async function createApiKey(deps: HookDeps, tokens: TokenSet): Promise<LoginResult> {
  const { createApiKeyRequest, processCreateApiKeyResponse } = await import("./anthropic-endpoints.ts");
  const key = await processCreateApiKeyResponse(
    await createApiKeyRequest(deps.http, {
      apiUrl: deps.apiUrl,
      accessToken: tokens.access_token,
      signal: deps.signal,
    }),
  );
  return { kind: "key", key, label: "created by authctl login" };
}

export const ANTHROPIC_CONSOLE: OAuthMethod = {
  id: "console",
  kind: "oauth",
  label: "Log in to the Anthropic Console (creates an API key)",
  // providers.md §0: yields a normal pay-as-you-go key; no current first-party doc of the flow.
  hint: "a pay-as-you-go API key made for you; billed like any key",
  flows: ["loopback"],
  source:
    "Claude Code PROD_OAUTH_CONFIG (CONSOLE_AUTHORIZE_URL, as read by third-party analyses, providers.md A5); badlogic/pi-mono packages/ai/src/utils/oauth/anthropic.ts (token URL, redirect)",
  policy: "uncertain (yields a normal pay-as-you-go API key; no first-party document)",
  oauth: {
    ...base,
    // Claude Code's console authorize moved with its token URL to platform.claude.com; the legacy
    // console.anthropic.com/oauth/authorize was never paired with the localhost:53692 redirect.
    authorizeUrl: "https://platform.claude.com/oauth/authorize",
    // The legacy console scopes (providers.md §3: opencode's console mode); create_api_key needs org:create_api_key.
    scopes: ["org:create_api_key", "user:profile", "user:inference"],
  },
  env: { ANTHROPIC_API_KEY: "key" },
  steps: { exchange: exchangeWithState, finish: createApiKey },
};

export const ANTHROPIC_CLAUDE: OAuthMethod = {
  id: "claude",
  kind: "oauth",
  label: "Claude Pro/Max subscription (for Claude Code only)",
  flows: ["loopback"],
  source: "badlogic/pi-mono packages/ai/src/utils/oauth/anthropic.ts (AUTHORIZE_URL, SCOPES, REDIRECT_URI)",
  policy: "first-party client only (Anthropic allows these tokens only in Claude Code and Claude.ai)",
  oauth: {
    ...base,
    // pi-mono anthropic.ts AUTHORIZE_URL (current Claude Code uses claude.com/cai/oauth/authorize, which redirects to claude.ai).
    authorizeUrl: "https://claude.ai/oauth/authorize",
    // pi-mono anthropic.ts SCOPES.
    scopes: [
      "org:create_api_key",
      "user:profile",
      "user:inference",
      "user:sessions:claude_code",
      "user:mcp_servers",
      "user:file_upload",
    ],
  },
  env: { CLAUDE_CODE_OAUTH_TOKEN: "access_token", ANTHROPIC_OAUTH_TOKEN: "access_token" },
  // Claude Code bills the API instead of the subscription when an API key is present (§10).
  conflictVars: ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"],
  steps: { exchange: exchangeWithState },
  notice:
    "Anthropic allows Claude Pro/Max tokens only inside Claude Code: use them with 'authctl exec -p anthropic -- claude'.",
};
