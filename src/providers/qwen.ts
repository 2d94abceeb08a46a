import { classifyDeviceTokenResponse, type DevicePollOutcome } from "../oauth/device.ts";
import { NO_REDIRECT, withResourceUrl, type OAuthMethod, type ProviderDefinition } from "./types.ts";

/**
 * Qwen (chat.qwen.ai, providers.md §6): device flow with PKCE. Legacy — the free tier closed on
 * 2026-04-15; new users want the dashscope key provider. Qwen says slow_down with HTTP 429.
 */
async function classify(response: Response, now: number): Promise<DevicePollOutcome> {
  if (response.status === 429) {
    await response.body?.cancel();
    return { kind: "slow_down" };
  }
  return classifyDeviceTokenResponse(response, { now });
}

const QWEN_DEVICE: OAuthMethod = {
  id: "device",
  kind: "oauth",
  label: "Qwen account (legacy: the free tier closed 2026-04-15)",
  flows: ["device"],
  source: "QwenLM/qwen-code packages/core/src/qwen/qwenOAuth2.ts",
  policy: "retired (Qwen's free OAuth tier closed 2026-04-15; providers.md §6)",
  oauth: {
    // qwenOAuth2.ts QWEN_OAUTH_DEVICE_CODE_ENDPOINT / QWEN_OAUTH_TOKEN_ENDPOINT (base https://chat.qwen.ai).
    deviceAuthorizationUrl: "https://chat.qwen.ai/api/v1/oauth2/device/code",
    tokenUrl: "https://chat.qwen.ai/api/v1/oauth2/token",
    // qwenOAuth2.ts QWEN_OAUTH_CLIENT_ID and QWEN_OAUTH_SCOPE.
    clientId: "f0304373b74a44d2b584a3fb70ca9e56",
    scopes: ["openid", "profile", "email", "model.completion"],
    ...NO_REDIRECT,
    tokenBody: "form",
  },
  env: { QWEN_ACCESS_TOKEN: "access_token", QWEN_RESOURCE_URL: "resource_url" },
  // qwen-code reads ~/.qwen/oauth_creds.json, not variables (qwenOAuth2.ts); these names are authctl's own.
  variableNotes: {
    QWEN_ACCESS_TOKEN:
      "authctl's own name, read by no tool: the bearer key for an OpenAI-compatible client (OPENAI_API_KEY), with base https://<QWEN_RESOURCE_URL>/v1 (qwen-code qwenContentGenerator.ts)",
    QWEN_RESOURCE_URL:
      "authctl's own name, read by no tool: the account's API host from the token answer (resource_url)",
  },
  // qwen-code refreshes 30 s before expiry (sharedTokenManager.ts TOKEN_REFRESH_BUFFER_MS); authctl
  // keeps its one margin (store/expiry.ts), so a program it starts gets minutes, not seconds.
  // qwen-code sends x-request-id only with the device request; authctl's auth-server headers hook
  // also puts one on polls and refreshes: a fresh id per request, which the server may ignore.
  steps: {
    authorize: { device: { pkce: true, classify } },
    finish: async (_deps, tokens) => withResourceUrl(tokens),
  },
  hooks: {
    // qwenOAuth2.ts sends x-request-id: <uuid> with the device request.
    headers: (deps) => ({
      "x-request-id": crypto.randomUUID?.() ?? Buffer.from(deps.randomBytes(16)).toString("hex"),
    }),
  },
  notice: "Qwen OAuth is legacy (free tier closed 2026-04-15): for new setups use 'authctl login dashscope'.",
};

export const QWEN: ProviderDefinition = {
  id: "qwen",
  name: "Qwen (legacy OAuth)",
  hint: "legacy: free tier closed 2026-04-15 — use dashscope",
  methods: [QWEN_DEVICE],
  keyVars: ["QWEN_ACCESS_TOKEN"],
  apiUrl: "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
};
