import type { TokenSet } from "../oauth/token.ts";
import type { HookDeps, LoginResult, OAuthMethod } from "./types.ts";

/**
 * Gemini Code Assist (providers.md §7): Google's installed-app flow. The client secret is public
 * by design ("ok to save this in git because this is an installed application"). After login,
 * the Code Assist setup of gemini-cli (google-gemini/gemini-cli packages/core/src/code_assist/setup.ts)
 * names the Cloud project the token is used with: loadCodeAssist, and for an account without a
 * tier yet onboardUser with the default allowed tier, whose long-running operation carries the
 * project. Without it a new account would get no project at all.
 */
// gemini-cli server.ts CODE_ASSIST_ENDPOINT and CODE_ASSIST_API_VERSION.
const CODE_ASSIST_ENDPOINT = "https://cloudcode-pa.googleapis.com";
const CODE_ASSIST_API_VERSION = "v1internal";
// gemini-cli setup.ts polls the onboarding operation every 5 s; authctl gives it a minute.
const ONBOARD_POLL_MS = 5_000;
const ONBOARD_WAIT_MS = 60_000;

type Json = Record<string, unknown>;

async function codeAssistSetup(deps: HookDeps, accessToken: string): Promise<string | undefined> {
  // Gemini CLI's own overrides of the Code Assist host and version, honoured the same way (server.ts getBaseUrl).
  const endpoint = (deps.env.CODE_ASSIST_ENDPOINT ?? CODE_ASSIST_ENDPOINT).replace(/\/+$/, "");
  const base = `${endpoint}/${deps.env.CODE_ASSIST_API_VERSION || CODE_ASSIST_API_VERSION}`;
  const { codeAssistRequest, processCodeAssistResponse } = await import("./gemini-endpoints.ts");
  const call = async (url: string, body?: Json): Promise<Json> =>
    processCodeAssistResponse(
      await codeAssistRequest(deps.http, { url, accessToken, body, signal: deps.signal }),
    );
  // setup.ts: the project named in the environment, if any, goes with every request.
  const envProject = deps.env.GOOGLE_CLOUD_PROJECT || deps.env.GOOGLE_CLOUD_PROJECT_ID || undefined;
  const metadata = { ideType: "IDE_UNSPECIFIED", platform: "PLATFORM_UNSPECIFIED", pluginType: "GEMINI" };
  const load = await call(`${base}:loadCodeAssist`, {
    cloudaicompanionProject: envProject,
    metadata: { ...metadata, duetProject: envProject },
  });
  if (load.currentTier)
    return typeof load.cloudaicompanionProject === "string" ? load.cloudaicompanionProject : envProject;
  // setup.ts getOnboardTier: the allowed tier marked isDefault, else the legacy tier.
  const tiers = Array.isArray(load.allowedTiers) ? (load.allowedTiers as Json[]) : [];
  const tierId = String(tiers.find((tier) => tier.isDefault)?.id ?? "legacy-tier");
  // setup.ts: the free tier uses a managed project; naming one there fails with "Precondition Failed".
  const request =
    tierId === "free-tier"
      ? { tierId, metadata }
      : { tierId, cloudaicompanionProject: envProject, metadata: { ...metadata, duetProject: envProject } };
  let operation = await call(`${base}:onboardUser`, request);
  const deadline = deps.now() + ONBOARD_WAIT_MS;
  while (!operation.done && typeof operation.name === "string" && deps.now() < deadline) {
    await deps.sleep(ONBOARD_POLL_MS, deps.signal);
    operation = await call(`${base}/${operation.name}`);
  }
  const project = ((operation.response as Json | undefined)?.cloudaicompanionProject as Json | undefined)?.id;
  return typeof project === "string" ? project : envProject;
}

async function loadProject(deps: HookDeps, tokens: TokenSet): Promise<LoginResult> {
  const extra: Record<string, string> = {};
  try {
    const project = await codeAssistSetup(deps, tokens.access_token);
    if (project) extra.project = project;
  } catch (error) {
    if (deps.signal?.aborted) throw error;
    // The project is a convenience for GOOGLE_CLOUD_PROJECT; Workspace users set their own. A
    // setup that failed keeps the one named in the environment, as gemini-cli's setup does.
    const envProject = deps.env.GOOGLE_CLOUD_PROJECT || deps.env.GOOGLE_CLOUD_PROJECT_ID;
    if (envProject) extra.project = envProject;
  }
  return { kind: "tokens", tokens, extra };
}

export const GEMINI_CODE_ASSIST: OAuthMethod = {
  id: "code-assist",
  kind: "oauth",
  label: "Google account (Gemini Code Assist Standard / Workspace)",
  flows: ["loopback"],
  source: "google-gemini/gemini-cli packages/core/src/code_assist/{oauth2.ts,setup.ts,server.ts}",
  policy:
    "first-party client only (Google forbids Gemini CLI's login in other tools for consumer accounts; retired for individuals 2026-06-18)",
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
    // gemini-cli oauth2.ts (commit 5411f113) sends access_type=offline only, and no PKCE on this
    // web flow (only its NO_BROWSER flow has PKCE). authctl adds prompt=consent on purpose: Google
    // returns a refresh token only at a fresh consent, and gemini-cli keeps an earlier one in
    // ~/.gemini while authctl starts without any (pi-mono google-gemini-cli.ts does the same).
    // The loopback flow adds PKCE S256 for every provider (RFC 8252 §8.1), which Google accepts.
    extraAuthorizeParams: { access_type: "offline", prompt: "consent" },
  },
  env: {
    GOOGLE_CLOUD_ACCESS_TOKEN: "access_token",
    GOOGLE_GENAI_USE_GCA: "literal:true",
    GOOGLE_CLOUD_PROJECT: "project",
  },
  conflictVars: ["GEMINI_API_KEY", "GOOGLE_API_KEY"],
  extra: { project: { secret: false } },
  steps: { finish: loadProject },
  notice:
    "Google forbids using Gemini CLI's login in other tools for consumer accounts; this is for Workspace / Code Assist Standard. Prefer 'authctl login gemini --method key'.",
};
