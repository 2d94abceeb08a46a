import { AuthctlError, NetworkError } from "../errors.ts";
import { githubApiBase } from "./github-copilot.ts";
import type { HookDeps } from "./types.ts";

/**
 * The short-lived Copilot token (providers.md §5b, variant a): GET copilot_internal/v2/token with
 * the stored GitHub token. Caching it and the store lock are actions/use-exchange.ts's; this is
 * the request, loaded only by `authctl token github-copilot --copilot`.
 */
// The VS Code Copilot Chat identity the exchange expects (badlogic/pi-mono
// packages/ai/src/utils/oauth/github-copilot.ts COPILOT_HEADERS; providers.md §5b variant a).
const HEADERS = {
  accept: "application/json",
  "user-agent": "GitHubCopilotChat/0.35.0",
  "editor-version": "vscode/1.107.0",
  "editor-plugin-version": "copilot-chat/0.35.0",
  "copilot-integration-id": "vscode-chat",
};

function exchangeUrl(apiUrl: string, host: string | undefined): string {
  const base = new URL(apiUrl);
  if (host && apiUrl === "https://api.github.com") {
    // The store checks that `host` is a host name (store/_routing-fields.ts); this checks that the
    // URL built from it has exactly that host, so "x@evil" can never become user info here.
    // GHE.com: https://api.<host>; GitHub Enterprise Server: https://<host>/api/v3 (githubApiBase).
    const corrupt = () =>
      new AuthctlError("STORE_CORRUPT", "the stored GitHub host of github-copilot is not a host name", {
        hint: "run 'authctl login github-copilot --host <host>'",
      });
    let url: URL;
    try {
      url = new URL(`${githubApiBase(host)}/`);
    } catch {
      throw corrupt();
    }
    const expected = host.toLowerCase();
    if (url.username || url.password || (url.host !== `api.${expected}` && url.host !== expected))
      throw corrupt();
    return new URL("copilot_internal/v2/token", url).toString();
  }
  base.pathname = `${base.pathname.replace(/\/+$/, "")}/copilot_internal/v2/token`;
  return base.toString();
}

export async function exchangeCopilotToken(
  deps: HookDeps,
  github: string,
  extra: Record<string, string>,
): Promise<{ token: string; expiresAt: number }> {
  const url = exchangeUrl(deps.apiUrl, extra.host);
  let response: Response;
  try {
    response = await deps.fetch(url, {
      headers: { ...HEADERS, authorization: `token ${github}` },
      signal: AbortSignal.timeout(20_000),
      redirect: "manual",
    });
  } catch (error) {
    const host = new URL(url).host;
    throw new NetworkError(`could not reach ${host} for a Copilot token`, { host }, { cause: error });
  }
  const text = await response.text();
  if (response.status === 401) {
    throw new AuthctlError("AUTH_FAILED", "GitHub rejected the stored token (HTTP 401: Bad credentials)", {
      hint: "run 'authctl login github-copilot'",
    });
  }
  if (response.status === 403 || response.status === 404) {
    throw new AuthctlError(
      "AUTH_FAILED",
      `this GitHub account has no Copilot access (HTTP ${response.status})`,
      {
        hint: "check the Copilot seat at github.com/settings/copilot",
      },
    );
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new AuthctlError(
      "PROTOCOL",
      `the Copilot token exchange answered HTTP ${response.status} with no JSON`,
    );
  }
  if (!response.ok || typeof json.token !== "string" || typeof json.expires_at !== "number") {
    throw new AuthctlError(
      "PROTOCOL",
      `the Copilot token exchange answered HTTP ${response.status} without a token`,
    );
  }
  // `expires_at` is in unix seconds (guhfvbj/copilot-api get-copilot-token.ts; providers.md §5b).
  return { token: json.token, expiresAt: json.expires_at * 1000 };
}
