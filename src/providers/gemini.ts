import type { TokenSet } from "../oauth/token.ts";
import type { HookDeps, LoginResult, OAuthMethod } from "./types.ts";

/**
 * Gemini Code Assist (providers.md §7): Google's installed-app flow. The client secret is public
 * by design ("ok to save this in git because this is an installed application"). After login,
 * loadCodeAssist names the Cloud project the token is used with.
 */
async function loadProject(deps: HookDeps, tokens: TokenSet): Promise<LoginResult> {
  const extra: Record<string, string> = {};
  try {
    // Gemini CLI's own override of the Code Assist host, honoured the same way (providers.md §7).
    const endpoint = (deps.env.CODE_ASSIST_ENDPOINT ?? "https://cloudcode-pa.googleapis.com").replace(/\/+$/, "");
    const response = await deps.fetch(`${endpoint}/v1internal:loadCodeAssist`, {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.access_token}`, "content-type": "application/json" },
      body: JSON.stringify({ metadata: { ideType: "IDE_UNSPECIFIED", platform: "PLATFORM_UNSPECIFIED", pluginType: "GEMINI" } }),
      signal: AbortSignal.timeout(20_000),
    });
    const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (typeof json.cloudaicompanionProject === "string") extra.project = json.cloudaicompanionProject;
  } catch {
    // The project is a convenience for GOOGLE_CLOUD_PROJECT; Workspace users set their own.
  }
  return { kind: "tokens", tokens, extra };
}

export const GEMINI_CODE_ASSIST: OAuthMethod = {
  id: "code-assist",
  kind: "oauth",
  label: "Google account (Gemini Code Assist Standard / Workspace)",
  flows: ["loopback", "paste"],
  source: "google-gemini/gemini-cli packages/core/src/code_assist/{oauth2.ts,setup.ts,server.ts}",
  policy: "first-party client only (Google forbids Gemini CLI's login in other tools for consumer accounts; retired for individuals 2026-06-18)",
  oauth: {
    // google-auth-library's endpoints as gemini-cli oauth2.ts uses them (pi-mono google-gemini-cli.ts names them).
    authorizeUrl: "https://accounts.google.com/o/oauth2/v2/auth",
    tokenUrl: "https://oauth2.googleapis.com/token",
    // https://developers.google.com/identity/protocols/oauth2/native-app#tokenrevoke
    revocationUrl: "https://oauth2.googleapis.com/revoke",
    // gemini-cli oauth2.ts OAUTH_CLIENT_ID / OAUTH_CLIENT_SECRET ("ok to save this in git because this is an installed application").
    clientId: "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com",
    clientSecret: "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",
    // gemini-cli oauth2.ts OAUTH_SCOPE.
    scopes: [
      "https://www.googleapis.com/auth/cloud-platform",
      "https://www.googleapis.com/auth/userinfo.email",
      "https://www.googleapis.com/auth/userinfo.profile",
    ],
    // gemini-cli oauth2.ts: http://127.0.0.1:<free port>/oauth2callback.
    redirectHost: "127.0.0.1",
    redirectPort: 0,
    fallbackPorts: [],
    redirectPath: "/oauth2callback",
    tokenBody: "form",
    // A refresh token only comes with offline access and a fresh consent.
    extraAuthorizeParams: { access_type: "offline", prompt: "consent" },
  },
  env: { GOOGLE_CLOUD_ACCESS_TOKEN: "access_token", GOOGLE_GENAI_USE_GCA: "literal:true", GOOGLE_CLOUD_PROJECT: "project" },
  conflictVars: ["GEMINI_API_KEY", "GOOGLE_API_KEY"],
  hooks: {
    afterTokens: loadProject,
    notice: "Google forbids using Gemini CLI's login in other tools for consumer accounts; this is for Workspace / Code Assist Standard. Prefer 'authctl login gemini --method key'.",
  },
};
