import { AuthctlError, OAuthError } from "../errors.ts";
import type { TokenSet } from "../oauth/token.ts";
import { readEnvelope, tokensFrom } from "./minimax-answers.ts";
import { createPkce, createState } from "../oauth/pkce.ts";
import {
  NO_REDIRECT,
  withResourceUrl,
  type DeviceStart,
  type HookDeps,
  type OAuthMethod,
  type OAuthSettings,
} from "./types.ts";

/**
 * MiniMax coding plan: a device flow of MiniMax's own, on the account host of the user's region
 * (anomalyco/opencode packages/opencode/src/plugin/minimax/minimax.ts, the current plugin; the
 * older api.minimaxi.com/oauth/{code,token} of providers.md §8 was China-only).
 * POST <account>/oauth2/device/code with PKCE and state → {user_code, verification_uri,
 * expired_in (a unix *millisecond* deadline), interval (*milliseconds*), state}; the echoed state
 * must match. Polls send the user_code and verifier to <account>/oauth2/token and answer
 * {status: "pending" | "success", access_token, refresh_token, expired_in, resource_url}. Real
 * answers may carry MiniMax's envelope instead of `status`: base_resp.status_code 0 is success,
 * anything else an error with base_resp.status_msg (openclaw/openclaw extensions/minimax/base-resp.ts).
 * A refresh answers the same shape: its expiry is `expired_in`, never `expires_in`.
 */

/**
 * The refresh answer: 4xx means the refresh token is dead (opencode's doRefresh gives up on 4xx
 * and retries 5xx), reported as invalid_grant so the login is marked as needing renewal.
 */
export async function processMiniMaxTokenAnswer(response: Response, now: number): Promise<TokenSet> {
  const text = await response.text().catch(() => "");
  let body: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed))
      body = parsed as Record<string, unknown>;
  } catch {
    // Judged by the status below.
  }
  if (response.status >= 400 && response.status < 500) {
    const error = typeof body.error === "string" ? body.error : "invalid_grant";
    // Reported as invalid_grant whatever MiniMax calls it: 4xx means the refresh token is dead.
    throw new OAuthError(`MiniMax refused the refresh (HTTP ${response.status}: ${error})`, {
      error: "invalid_grant",
      status: response.status,
    });
  }
  if (!response.ok)
    throw new AuthctlError("PROTOCOL", `MiniMax's token endpoint answered HTTP ${response.status}`);
  const envelope = readEnvelope(body);
  if (envelope.kind !== "success") {
    throw new AuthctlError(
      "PROTOCOL",
      `MiniMax's token endpoint did not refresh the login (${envelope.kind === "error" ? envelope.message : "pending"})`,
    );
  }
  return tokensFrom(body, now);
}

async function start(deps: HookDeps, settings: OAuthSettings): Promise<DeviceStart> {
  const pkce = createPkce(deps.randomBytes);
  const state = createState(deps.randomBytes);
  const endpoints = await import("./minimax-endpoints.ts");
  const code = await endpoints.processDeviceCodeResponse(
    await endpoints.deviceCodeRequest(deps.http, {
      url: settings.deviceAuthorizationUrl!,
      clientId: settings.clientId!,
      scopes: settings.scopes,
      codeChallenge: pkce.challenge,
      state,
      signal: deps.signal,
    }),
    { state, now: deps.now() },
  );
  return {
    userCode: code.userCode,
    verificationUri: code.verificationUri,
    expiresAt: code.expiresAt,
    interval: code.interval,
    poll: (signal) =>
      endpoints.devicePollRequest(deps.http, {
        url: settings.tokenUrl!,
        clientId: settings.clientId!,
        userCode: code.userCode,
        codeVerifier: pkce.verifier,
        signal,
      }),
    classify: (answer) => endpoints.processDevicePollResponse(answer, deps.now()),
  };
}

export const MINIMAX_CODING_PLAN: OAuthMethod = {
  id: "coding-plan",
  kind: "oauth",
  label: "MiniMax coding plan account (device code)",
  flows: ["device"],
  source:
    "anomalyco/opencode packages/opencode/src/plugin/minimax/minimax.ts (MinimaxAuthPlugin, MinimaxCnAuthPlugin)",
  policy: "uncertain (MiniMax's login as shipped in opencode; no MiniMax document read)",
  oauth: {
    // Global accounts (opencode MinimaxAuthPlugin authBaseUrl "https://account.minimax.io").
    deviceAuthorizationUrl: "https://account.minimax.io/oauth2/device/code",
    tokenUrl: "https://account.minimax.io/oauth2/token",
    // opencode minimax.ts CLIENT_ID (the "openCode" client).
    clientId: "d38bdbee-2b8c-4c74-9a9c-5875fabe6317",
    // opencode minimax.ts OAUTH_SCOPES.
    scopes: ["openid", "profile", "coding_plan"],
    ...NO_REDIRECT,
    tokenBody: "form",
  },
  regionOAuth: {
    // China accounts (opencode MinimaxCnAuthPlugin authBaseUrl "https://account.minimaxi.com").
    cn: {
      deviceAuthorizationUrl: "https://account.minimaxi.com/oauth2/device/code",
      tokenUrl: "https://account.minimaxi.com/oauth2/token",
    },
  },
  // The coding-plan token is the API key of the Anthropic-compatible endpoint (opencode's loader: apiKey = access token).
  env: { MINIMAX_API_KEY: "access_token" },
  steps: { authorize: { startDevice: start }, finish: async (_deps, tokens) => withResourceUrl(tokens) },
  hooks: { processTokenAnswer: processMiniMaxTokenAnswer },
};
