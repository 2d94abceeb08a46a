import { AuthctlError } from "../errors.ts";
import { parseTokenSet } from "../oauth/token.ts";
import { createPkce, createState } from "../oauth/pkce.ts";
import type { DevicePollOutcome } from "../oauth/device.ts";
import { NO_REDIRECT, withResourceUrl, type CustomDeviceStart, type HookDeps, type OAuthMethod, type OAuthSettings } from "./types.ts";

/**
 * MiniMax coding plan (providers.md §8, UNCERTAIN whether shipped upstream): a device flow of its
 * own. POST /oauth/code with PKCE and state → {user_code, verification_uri, expired_in (a unix
 * *millisecond* deadline), interval (*milliseconds*), state}; the echoed state must match. Polls
 * send the user_code and verifier and answer {status: "pending" | "success", …}.
 */
async function start(deps: HookDeps, settings: OAuthSettings): Promise<CustomDeviceStart> {
  const pkce = createPkce(deps.randomBytes);
  const state = createState(deps.randomBytes);
  const form = (params: Record<string, string>) => ({
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams(params).toString(),
  });
  const response = await deps.fetch(settings.deviceAuthorizationUrl!, {
    ...form({ client_id: settings.clientId!, scope: settings.scopes.join(" "), code_challenge: pkce.challenge, code_challenge_method: "S256", state }),
    signal: deps.signal,
  });
  const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok || typeof json.user_code !== "string" || typeof json.verification_uri !== "string") {
    throw new AuthctlError("PROTOCOL", `MiniMax's device authorization answered HTTP ${response.status} without a user code`);
  }
  if (json.state !== state) {
    throw new AuthctlError("AUTH_FAILED", "MiniMax echoed a different state: this answer does not belong to this login");
  }
  const expiresAt = Number(json.expired_in);
  const intervalMs = Number(json.interval);
  const userCode = json.user_code;
  return {
    userCode,
    verificationUri: json.verification_uri,
    expiresAt: Number.isFinite(expiresAt) && expiresAt > 0 ? expiresAt : deps.now() + 10 * 60_000,
    interval: Number.isFinite(intervalMs) && intervalMs > 0 ? intervalMs / 1000 : 5,
    poll: (signal) =>
      deps.fetch(settings.tokenUrl!, {
        ...form({
          grant_type: "urn:ietf:params:oauth:grant-type:device_code",
          client_id: settings.clientId!,
          user_code: userCode,
          code_verifier: pkce.verifier,
        }),
        signal,
      }),
    async classify(answer): Promise<DevicePollOutcome> {
      const body = (await answer.json().catch(() => ({}))) as Record<string, unknown>;
      if (body.status === "pending") return { kind: "pending" };
      if (body.status === "success") {
        // MiniMax's expiry field is a millisecond deadline, not seconds to live.
        const { expired_in: deadline, ...rest } = body;
        const tokens = parseTokenSet(rest, deps.now());
        const expiresAt = Number(deadline);
        return { kind: "token", token: Number.isFinite(expiresAt) && expiresAt > 0 ? { ...tokens, expires_at: expiresAt } : tokens };
      }
      const error = typeof body.error === "string" ? body.error : `HTTP ${answer.status}`;
      if (error === "expired_token") return { kind: "expired" };
      if (error === "access_denied") return { kind: "denied" };
      return { kind: "error", error: new AuthctlError("OAUTH", `MiniMax refused the login: ${error}`, { detail: { error } }) };
    },
    finish: async (tokens) => withResourceUrl(tokens),
  };
}

export const MINIMAX_CODING_PLAN: OAuthMethod = {
  id: "coding-plan",
  kind: "oauth",
  label: "MiniMax coding plan account (device code)",
  flows: ["device"],
  oauth: {
    deviceAuthorizationUrl: "https://api.minimaxi.com/oauth/code",
    tokenUrl: "https://api.minimaxi.com/oauth/token",
    clientId: "d38bdbee-2b8c-4c74-9a9c-5875fabe6317",
    scopes: ["openid", "profile", "coding_plan"],
    ...NO_REDIRECT,
    tokenBody: "form",
  },
  // The coding-plan token is used as the API key of the Anthropic-compatible endpoint.
  env: { MINIMAX_API_KEY: "access_token" },
  hooks: { customDevice: start },
};
