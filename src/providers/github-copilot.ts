import { githubApiBase, normalizeGitHubHost } from "./_github-host.ts";
import { NO_REDIRECT, type OAuthMethod, type OAuthSettings, type ProviderDefinition } from "./types.ts";

/**
 * GitHub Copilot: GitHub's device flow (providers.md §5a) for a long-lived GitHub token, which
 * Copilot clients take as COPILOT_GITHUB_TOKEN. GitHub answers poll errors with HTTP 200; the
 * shared device flow reads `error` whatever the status. `--host` points every endpoint at a
 * GitHub Enterprise host: a GHE.com tenant (company.ghe.com) or a GitHub Enterprise Server.
 */
// The VS Code Copilot app's client id (badlogic/pi-mono packages/ai/src/utils/oauth/github-copilot.ts).
export const COPILOT_CLIENT_ID = "Iv1.b507a08c87ecfe98";

export { githubApiBase, normalizeGitHubHost };

function settingsForHost(host: string, settings: OAuthSettings): OAuthSettings {
  const domain = normalizeGitHubHost(host);
  // The device flow lives on the web host for github.com, GHE.com and GHES alike (pi-mono
  // github-copilot.ts getUrls; https://docs.github.com/en/enterprise-server@latest/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps#device-flow).
  return {
    ...settings,
    deviceAuthorizationUrl: `https://${domain}/login/device/code`,
    tokenUrl: `https://${domain}/login/oauth/access_token`,
  };
}

const COPILOT_DEVICE: OAuthMethod = {
  id: "github",
  kind: "oauth",
  label: "Log in with GitHub (device code)",
  flows: ["device"],
  source:
    "badlogic/pi-mono packages/ai/src/utils/oauth/github-copilot.ts; anomalyco/opencode packages/opencode/src/plugin/copilot.ts",
  policy: "supported (GitHub documents the device flow and COPILOT_GITHUB_TOKEN)",
  oauth: {
    // https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps#device-flow
    deviceAuthorizationUrl: "https://github.com/login/device/code",
    tokenUrl: "https://github.com/login/oauth/access_token",
    clientId: COPILOT_CLIENT_ID,
    // pi-mono github-copilot.ts and opencode copilot.ts ask for read:user.
    scopes: ["read:user"],
    ...NO_REDIRECT,
    tokenBody: "form",
  },
  // Copilot CLI reads COPILOT_GITHUB_TOKEN first (https://docs.github.com/en/enterprise-cloud@latest/copilot/how-tos/copilot-cli/set-up-copilot-cli/authenticate-copilot-cli).
  env: { COPILOT_GITHUB_TOKEN: "access_token" },
  hooks: { forHost: settingsForHost },
};

export const GITHUB_COPILOT: ProviderDefinition = {
  id: "github-copilot",
  name: "GitHub Copilot",
  hint: "device login with your GitHub account; --host for GitHub Enterprise",
  methods: [
    COPILOT_DEVICE,
    { id: "key", kind: "api_key", label: "GitHub token (fine-grained PAT with Copilot Requests)" },
  ],
  keyVars: ["COPILOT_GITHUB_TOKEN"],
  keySource:
    "https://docs.github.com/en/enterprise-cloud@latest/copilot/how-tos/copilot-cli/set-up-copilot-cli/authenticate-copilot-cli",
  // OAuth (gho_), GitHub App user (ghu_) and fine-grained (github_pat_) tokens. Classic ghp_ PATs
  // are not accepted by Copilot: the Copilot CLI docs (link above) name fine-grained PATs with the
  // "Copilot Requests" permission (github/copilot-cli#1609).
  keyPrefixes: ["gho_", "ghu_", "github_pat_"],
  apiUrl: "https://api.github.com",
  // A GitHub token is checked with GET /user (providers.md §5b, "Validate"); the Copilot seat only
  // shows at the token exchange (`authctl token github-copilot --copilot`).
  validation: {
    path: "/user",
    auth: { kind: "bearer" },
    source: "https://docs.github.com/en/rest/users/users#get-the-authenticated-user",
  },
  extra: { copilot_token: { secret: true }, copilot_expires_at: { secret: false } },
  useExchange: {
    flag: "copilot",
    description: "github-copilot: print the short-lived Copilot API token",
    label: "Copilot",
    cache: { token: "copilot_token", expiresAt: "copilot_expires_at" },
    // pi-mono github-copilot.ts refreshes 5 minutes before `expires_at`.
    marginMs: 5 * 60_000,
    run: async (deps, secret, extra) =>
      (await import("./github-copilot-token.ts")).exchangeCopilotToken(deps, secret, extra),
  },
};
