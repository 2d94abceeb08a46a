import { AuthctlError, OAuthError } from "../errors.ts";
import type { TokenSet } from "../oauth/token.ts";
import type { DeviceStart, HookDeps, LoginResult, OAuthMethod, OAuthSettings } from "./types.ts";

/**
 * "Sign in with ChatGPT" through the Codex client (providers.md §4): PKCE on localhost:1455 (1457
 * is the registered fallback), form-encoded exchange, single-use refresh tokens, and the
 * `chatgpt_account_id` claim. A token-exchange grant may turn the ID token into a platform API
 * key; when it does, OPENAI_API_KEY is exported, otherwise only the ChatGPT token and account.
 */
// openai/codex codex-rs/login/src/auth/manager.rs CLIENT_ID (public, no secret).
const CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann";

function claims(jwt: string | undefined): Record<string, unknown> {
  const payload = jwt?.split(".")[1];
  if (!payload) return {};
  try {
    return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
  } catch {
    return {};
  }
}

function accountId(tokens: TokenSet): string | undefined {
  for (const jwt of [tokens.id_token, tokens.access_token]) {
    const auth = claims(jwt)["https://api.openai.com/auth"] as Record<string, unknown> | undefined;
    if (typeof auth?.chatgpt_account_id === "string") return auth.chatgpt_account_id;
  }
  return undefined;
}

async function afterTokens(deps: HookDeps, tokens: TokenSet, settings: OAuthSettings): Promise<LoginResult> {
  const extra: Record<string, string> = {};
  const account = accountId(tokens);
  if (account) extra.chatgpt_account_id = account;
  if (tokens.id_token && settings.tokenUrl) {
    // Best effort, as in Codex: an account without platform access simply gets no API key.
    // Codex tries it after the browser login only (device_code_auth.rs at commit 0483fd17 stores
    // no API key); authctl tries it after either, since a failure costs one request and nothing else.
    const { apiKeyExchangeRequest, processApiKeyExchangeResponse } = await import("./openai-endpoints.ts");
    try {
      extra.api_key = await processApiKeyExchangeResponse(
        await apiKeyExchangeRequest(deps.http, {
          tokenUrl: settings.tokenUrl,
          clientId: settings.clientId ?? CLIENT_ID,
          idToken: tokens.id_token,
          signal: deps.signal,
        }),
      );
    } catch (error) {
      // Ctrl-C still ends the login; anything else leaves the ChatGPT token and account id.
      if (deps.signal?.aborted) throw error;
    }
  }
  const email = claims(tokens.id_token).email;
  return { kind: "tokens", tokens, extra, account: typeof email === "string" ? email : undefined };
}

/**
 * OpenAI refuses a workspace without Codex with `access_denied` and an error_description that
 * starts with its own code ("missing_codex_entitlement: …", as Codex's login server reads it).
 */
function explainError(error: unknown): unknown {
  if (error instanceof OAuthError && error.description?.includes("missing_codex_entitlement")) {
    return new AuthctlError("AUTH_FAILED", "Codex is not enabled for this ChatGPT workspace", {
      hint: "ask the workspace admin to enable Codex, or use 'authctl login openai --method key'",
      cause: error,
    });
  }
  return error;
}

/** OpenAI's own device variant (not RFC 8628): a user code, then an authorization code to exchange. */
async function startDevice(deps: HookDeps, settings: OAuthSettings): Promise<DeviceStart> {
  const usercodeUrl = settings.deviceAuthorizationUrl!;
  const origin = new URL(settings.tokenUrl!).origin;
  const endpoints = await import("./openai-endpoints.ts");
  const { deviceAuthId, userCode, interval } = await endpoints.processDeviceUserCodeResponse(
    await endpoints.deviceUserCodeRequest(deps.http, {
      url: usercodeUrl,
      clientId: settings.clientId,
      signal: deps.signal,
    }),
  );
  return {
    userCode,
    // openai/codex device_code_auth.rs: the user visits ${issuer}/codex/device; the code lives 15 minutes.
    verificationUri: `${origin}/codex/device`,
    expiresAt: deps.now() + 15 * 60_000,
    interval,
    poll: (signal) =>
      endpoints.deviceTokenPollRequest(deps.http, { usercodeUrl, deviceAuthId, userCode, signal }),
    classify: endpoints.processDeviceTokenPollResponse,
    // The approved answer is an authorization code for the standard exchange step, with the
    // verifier the server chose and the device code's redirect_uri (openai/codex device_code_auth.rs).
    grant: (answer) => ({
      kind: "code",
      code: answer.access_token,
      state: "",
      verifier: String(answer.raw.code_verifier),
      redirectUri: `${origin}/deviceauth/callback`,
    }),
  };
}

export const OPENAI_CHATGPT: OAuthMethod = {
  id: "chatgpt",
  kind: "oauth",
  label: "ChatGPT Plus/Pro account (via the Codex client)",
  // providers.md §0: OpenAI names some third-party tools as allowed, but its policy is unclear.
  hint: "uses your ChatGPT plan; OpenAI's terms for tools other than Codex are unclear",
  flows: ["loopback", "device"],
  source:
    "openai/codex codex-rs/login/src/{server.rs,device_code_auth.rs,auth/revoke.rs}; badlogic/pi-mono packages/ai/src/utils/oauth/openai-codex.ts",
  policy: "uncertain (OpenAI's 'Codex for Open Source' names pi, OpenCode and Cline; providers.md §0)",
  oauth: {
    // openai/codex server.rs: `${issuer}/oauth/authorize` and `/oauth/token`, issuer https://auth.openai.com.
    authorizeUrl: "https://auth.openai.com/oauth/authorize",
    tokenUrl: "https://auth.openai.com/oauth/token",
    // openai/codex device_code_auth.rs: `${issuer}/api/accounts/deviceauth/usercode` (then …/token).
    deviceAuthorizationUrl: "https://auth.openai.com/api/accounts/deviceauth/usercode",
    // openai/codex codex-rs/login/src/auth/manager.rs REVOKE_TOKEN_URL; revoke.rs posts it as JSON
    // {token, token_type_hint, client_id}.
    revocationUrl: "https://auth.openai.com/oauth/revoke",
    revocationBody: "json",
    clientId: CLIENT_ID,
    // Deliberately fewer than Codex asks for: openai/codex server.rs build_authorize_url (read at
    // commit 0483fd17) adds api.connectors.read and api.connectors.invoke, which only Codex's own
    // connectors use; authctl never calls them, so it asks for what pi-mono openai-codex.ts SCOPE
    // asks for (least privilege; the login works without them, as pi's shows).
    scopes: ["openid", "profile", "email", "offline_access"],
    // openai/codex server.rs: redirect http://localhost:1455/auth/callback, bound on 127.0.0.1.
    redirectHost: "localhost",
    redirectPort: 1455,
    // "Keep in sync with the Codex CLI Hydra redirect URI allow-list": arbitrary ports are refused.
    fallbackPorts: [1457],
    redirectPath: "/auth/callback",
    // openai/codex server.rs exchange_code_for_tokens posts the code form-encoded, and
    // auth/manager.rs request_chatgpt_token_refresh (read at commit 375d41a3) posts the refresh as
    // JSON {client_id, grant_type, refresh_token}: authctl sends each the way Codex does.
    tokenBody: "form",
    refreshBody: "json",
    // openai/codex server.rs build_authorize_url. `originator` names the client: codex sends
    // codex_cli_rs (default_client.rs DEFAULT_ORIGINATOR), pi sends "pi" (openai-codex.ts), opencode
    // "opencode"; third-party clients of this client id name themselves and log in, so authctl does too.
    extraAuthorizeParams: {
      id_token_add_organizations: "true",
      codex_cli_simplified_flow: "true",
      originator: "authctl",
    },
  },
  // OPENAI_API_KEY: the platform key codex gets from the token-exchange grant (server.rs
  // obtain_api_key). CHATGPT_ACCESS_TOKEN / CHATGPT_ACCOUNT_ID are authctl's own names (no tool reads
  // them by default): for scripts that call chatgpt.com/backend-api/codex with `Authorization:
  // Bearer` and the `chatgpt-account-id` header, as pi does (openai-codex-responses.ts).
  env: {
    OPENAI_API_KEY: "api_key",
    CHATGPT_ACCESS_TOKEN: "access_token",
    CHATGPT_ACCOUNT_ID: "chatgpt_account_id",
  },
  variableNotes: {
    CHATGPT_ACCESS_TOKEN:
      "authctl's own name, read by no tool by default: the ChatGPT access token for scripts calling chatgpt.com/backend-api/codex (Authorization: Bearer), as pi does",
    CHATGPT_ACCOUNT_ID:
      "authctl's own name, read by no tool by default: the chatgpt-account-id header value for the same scripts",
  },
  conflictVars: ["CODEX_API_KEY"],
  // Codex refreshes when the access token's JWT exp has passed or its last refresh is 8 days old
  // (auth/manager.rs TOKEN_REFRESH_INTERVAL, is_stale_for_proactive_refresh at 375d41a3), and on a
  // 401. authctl refreshes 5 minutes before expires_in runs out (store/expiry.ts), so a program it
  // starts never gets a token about to die; the refresh token is single-use either way.
  // The platform key from the token-exchange grant is as secret as the tokens; the account id is not.
  extra: { api_key: { secret: true }, chatgpt_account_id: { secret: false } },
  steps: { authorize: { explainError, startDevice }, finish: afterTokens },
};
