import { createHash } from "node:crypto";
import { version } from "../../package.json";
import { NO_REDIRECT, type HookDeps, type OAuthMethod, type ProviderDefinition } from "./types.ts";

/**
 * Kimi Code (providers.md §8): RFC 8628 device flow at auth.kimi.com with kimi-cli's X-Msh-*
 * headers, and rotating refresh tokens (serialised by the store lock like every refresh).
 */
function deviceId(deps: HookDeps): string {
  // kimi-cli persists a random id; a hash of the host name is as stable and needs no extra file.
  return createHash("sha256").update(`authctl:${deps.hostname()}`).digest("hex").slice(0, 32);
}

function headers(deps: HookDeps): Record<string, string> {
  return {
    "X-Msh-Platform": "kimi_cli",
    "X-Msh-Version": version,
    "X-Msh-Device-Name": deps.hostname(),
    "X-Msh-Device-Model": `${process.platform} ${process.arch}`,
    "X-Msh-Os-Version": process.platform,
    "X-Msh-Device-Id": deviceId(deps),
  };
}

const KIMI_DEVICE: OAuthMethod = {
  id: "device",
  kind: "oauth",
  label: "Kimi Code account (device code)",
  flows: ["device"],
  oauth: {
    deviceAuthorizationUrl: "https://auth.kimi.com/api/oauth/device_authorization",
    tokenUrl: "https://auth.kimi.com/api/oauth/token",
    clientId: "17e5f671-d194-4dfb-9706-5516cb48c098",
    scopes: [],
    ...NO_REDIRECT,
    tokenBody: "form",
  },
  // The Kimi Code API takes the OAuth access token as its bearer key.
  env: { KIMI_API_KEY: "access_token" },
  hooks: { headers },
};

export const KIMI: ProviderDefinition = {
  id: "kimi",
  name: "Kimi Code",
  hint: "Kimi Code plan: device login, or a KIMI_API_KEY",
  methods: [KIMI_DEVICE, { id: "key", kind: "api_key", label: "API key" }],
  keyVars: ["KIMI_API_KEY"],
  apiUrl: "https://api.kimi.com/coding/v1",
  validation: { path: "/models", auth: { kind: "bearer" }, source: "MoonshotAI/kimi-cli src/kimi_cli/auth/platforms.py (list_models: GET {base_url}/models)" },
};
