import { AuthctlError } from "../errors.ts";
import { NO_REDIRECT, type OAuthMethod, type OAuthSettings, type ProviderDefinition } from "./types.ts";

/**
 * GitHub Copilot: GitHub's device flow (providers.md §5a) for a long-lived GitHub token, which
 * Copilot clients take as COPILOT_GITHUB_TOKEN. GitHub answers poll errors with HTTP 200; the
 * shared device flow reads `error` whatever the status. `--host company.ghe.com` points every
 * endpoint at a GitHub Enterprise tenant.
 */
export const COPILOT_CLIENT_ID = "Iv1.b507a08c87ecfe98";

export function normalizeGitHubHost(host: string): string {
  const bare = host.trim().replace(/^https?:\/\//, "").replace(/\/.*$/, "").toLowerCase();
  if (!/^[a-z0-9.-]+(:\d+)?$/.test(bare)) {
    throw new AuthctlError("USAGE", `'${host}' is not a host name`, { hint: "use e.g. --host company.ghe.com" });
  }
  return bare;
}

function settingsForHost(host: string, settings: OAuthSettings): OAuthSettings {
  const domain = normalizeGitHubHost(host);
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
  oauth: {
    deviceAuthorizationUrl: "https://github.com/login/device/code",
    tokenUrl: "https://github.com/login/oauth/access_token",
    clientId: COPILOT_CLIENT_ID,
    scopes: ["read:user"],
    ...NO_REDIRECT,
    tokenBody: "form",
  },
  env: { COPILOT_GITHUB_TOKEN: "access_token" },
  hooks: { forHost: settingsForHost },
};

export const GITHUB_COPILOT: ProviderDefinition = {
  id: "github-copilot",
  name: "GitHub Copilot",
  hint: "device login with your GitHub account; --host for GitHub Enterprise",
  methods: [COPILOT_DEVICE, { id: "key", kind: "api_key", label: "GitHub token (fine-grained PAT with Copilot Requests)" }],
  keyVars: ["COPILOT_GITHUB_TOKEN"],
  keyPrefixes: ["gho_", "ghu_", "github_pat_", "ghp_"],
  apiUrl: "https://api.github.com",
  // A GitHub token is checked with GET /user (providers.md §5b, "Validate"); the Copilot seat only
  // shows at the token exchange (`authctl token github-copilot --copilot`).
  validation: { path: "/user", auth: { kind: "bearer" }, source: "https://docs.github.com/en/rest/users/users#get-the-authenticated-user" },
};
