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
  oauth: {
    deviceAuthorizationUrl: "https://chat.qwen.ai/api/v1/oauth2/device/code",
    tokenUrl: "https://chat.qwen.ai/api/v1/oauth2/token",
    clientId: "f0304373b74a44d2b584a3fb70ca9e56",
    scopes: ["openid", "profile", "email", "model.completion"],
    ...NO_REDIRECT,
    tokenBody: "form",
  },
  env: { QWEN_ACCESS_TOKEN: "access_token", QWEN_RESOURCE_URL: "resource_url" },
  hooks: {
    device: { pkce: true, classify },
    headers: (deps) => ({ "x-request-id": crypto.randomUUID?.() ?? Buffer.from(deps.randomBytes(16)).toString("hex") }),
    afterTokens: async (_deps, tokens) => withResourceUrl(tokens),
    notice: "Qwen OAuth is legacy (free tier closed 2026-04-15): for new setups use 'authctl login dashscope'.",
  },
};

export const QWEN: ProviderDefinition = {
  id: "qwen",
  name: "Qwen (legacy OAuth)",
  hint: "legacy: free tier closed 2026-04-15 — use dashscope",
  methods: [QWEN_DEVICE],
  keyVars: ["QWEN_ACCESS_TOKEN"],
  apiUrl: "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
};
