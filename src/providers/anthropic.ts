import { AuthctlError } from "../errors.ts";
import type { TokenSet } from "../oauth/token.ts";
import type { HookDeps, LoginResult, OAuthMethod, OAuthSettings } from "./types.ts";

/**
 * Anthropic (providers.md §3). Both account logins use the Claude Code client: PKCE, a JSON token
 * endpoint that wants `state` in the body, rotating refresh tokens.
 * - `claude` keeps the Pro/Max subscription tokens, for Claude Code only (Anthropic's terms).
 * - `console` turns the login into a permanent, pay-as-you-go API key (create_api_key).
 */
const CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e";

const base: Omit<OAuthSettings, "authorizeUrl" | "scopes"> = {
  tokenUrl: "https://platform.claude.com/v1/oauth/token",
  clientId: CLIENT_ID,
  redirectHost: "localhost",
  redirectPort: 53692,
  fallbackPorts: [],
  redirectPath: "/callback",
  tokenBody: "json",
  extraAuthorizeParams: { code: "true" },
};

const exchangeExtra = (input: { state: string }) => ({ state: input.state });

async function createApiKey(deps: HookDeps, tokens: TokenSet): Promise<LoginResult> {
  const url = `${deps.apiUrl.replace(/\/+$/, "")}/api/oauth/claude_cli/create_api_key`;
  let response: Response;
  try {
    response = await deps.fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.access_token}`, "content-type": "application/json", accept: "application/json" },
      body: "{}",
      signal: AbortSignal.timeout(30_000),
      redirect: "manual",
    });
  } catch (error) {
    throw new AuthctlError("NETWORK", `could not reach ${new URL(url).host} to create the API key`, { cause: error });
  }
  const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok || typeof json.raw_key !== "string") {
    const message = typeof (json.error as { message?: unknown })?.message === "string" ? (json.error as { message: string }).message : `HTTP ${response.status}`;
    throw new AuthctlError("AUTH_FAILED", `Anthropic did not create an API key (${message})`, {
      hint: "your account may lack permission to create keys; use 'authctl login anthropic --method key'",
    });
  }
  return { kind: "key", key: json.raw_key, label: "created by authctl login" };
}

export const ANTHROPIC_CONSOLE: OAuthMethod = {
  id: "console",
  kind: "oauth",
  label: "Log in to the Anthropic Console (creates an API key)",
  // providers.md §0: yields a normal pay-as-you-go key; no current first-party doc of the flow.
  hint: "a pay-as-you-go API key made for you; billed like any key",
  flows: ["loopback", "paste"],
  oauth: { ...base, authorizeUrl: "https://console.anthropic.com/oauth/authorize", scopes: ["org:create_api_key", "user:profile", "user:inference"] },
  env: { ANTHROPIC_API_KEY: "key" },
  hooks: { exchangeExtra, afterTokens: createApiKey },
};

export const ANTHROPIC_CLAUDE: OAuthMethod = {
  id: "claude",
  kind: "oauth",
  label: "Claude Pro/Max subscription (for Claude Code only)",
  flows: ["loopback", "paste"],
  oauth: {
    ...base,
    authorizeUrl: "https://claude.ai/oauth/authorize",
    scopes: ["org:create_api_key", "user:profile", "user:inference", "user:sessions:claude_code", "user:mcp_servers", "user:file_upload"],
  },
  env: { CLAUDE_CODE_OAUTH_TOKEN: "access_token", ANTHROPIC_OAUTH_TOKEN: "access_token" },
  // Claude Code bills the API instead of the subscription when an API key is present (§10).
  conflictVars: ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"],
  hooks: {
    exchangeExtra,
    notice: "Anthropic allows Claude Pro/Max tokens only inside Claude Code: use them with 'authctl exec -p anthropic -- claude'.",
  },
};
